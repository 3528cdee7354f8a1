/** Why a data handler refused: a stable code for programs, a message naming file, key and expectation for people. */
export type DataErrorCode =
  | "data.unknown_handler" | "data.bad_info" | "data.file_missing" | "data.array_missing"
  | "data.bad_array" | "data.length_mismatch" | "data.bad_cell" | "data.label_out_of_range"
  | "data.shape_mismatch";

export class DataError extends Error {
  override name = "DataError";
  constructor(readonly code: DataErrorCode, message: string) {
    super(message);
  }
}
