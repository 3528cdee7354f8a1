import type { IssueList } from "./issue-list.js";

/** The CA file under Cohort's key `ca` or IBM FL's `ca_cert` (one of them). */
export function caOf(raw: { ca?: string; ca_cert?: string }, path: string[], issues: IssueList): string | undefined {
  if (raw.ca !== undefined && raw.ca_cert !== undefined) issues.add([...path, "ca_cert"], "got both ca and ca_cert, expected one of them (ca_cert is IBM FL's name for ca)");
  return raw.ca ?? raw.ca_cert;
}
