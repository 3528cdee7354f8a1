export { DEFAULT_KEEPALIVE, type KeepaliveSettings, Party, PartyRefusedError, type PartySettings } from "./party.js";
export { type LocalLearner, type TrainSettings, type TrainResult, type EvaluateResult } from "./learner.js";
export { type BackoffSettings, DEFAULT_BACKOFF, backoffDelay } from "./backoff.js";
export { downloadModel, uploadUpdate } from "./transfer.js";
export { type BatchProgress, type LearnerOptions, TfjsLearner } from "./tfjs-learner.js";
export { PartyTlsError, certificateRefusal, diagnoseTls } from "./tls-diagnosis.js";

export { loadModelForData } from "./model-for-data.js";
