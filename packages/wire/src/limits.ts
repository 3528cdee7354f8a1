/** Metadata keys: the credential and the join session travel as call metadata, never in messages. */
export const AUTHORIZATION_KEY = "authorization";
export const PARTY_KEY = "cohort-party";
export const SESSION_KEY = "cohort-session";
