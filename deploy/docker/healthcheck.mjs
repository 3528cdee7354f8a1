// HEALTHCHECK of the Cohort images: GET the ops server's /healthz (or the path given). The
// runtime images have no curl; Node's fetch does the job. Exit 0 = healthy.
const port = process.env.COHORT_METRICS_PORT ?? "9464";
const path = process.argv[2] ?? "/healthz";
try {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(4000) });
  process.exit(response.ok ? 0 : 1);
} catch {
  process.exit(1);
}
