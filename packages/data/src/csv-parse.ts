import { DataError } from "./errors.js";

/**
 * A small RFC 4180 reader: fields separated by one delimiter character, optionally quoted with
 * double quotes ("" inside quotes is a quote), quoted fields may span lines, CRLF or LF line
 * ends, a UTF-8 byte-order mark is skipped. Blank lines are skipped. Written here rather than
 * taken from npm to keep the package free of dependencies; data files are numeric tables.
 */

export interface CsvTable {
  rows: string[][];
  /** 1-based line on which each row starts, for error messages. */
  lines: number[];
}

export function parseCsv(text: string, delimiter: string, source: string): CsvTable {
  if (delimiter.length !== 1 || delimiter === '"' || delimiter === "\n" || delimiter === "\r") {
    throw new DataError("data.bad_info", `${source}: delimiter must be one character other than a quote or line break, got ${JSON.stringify(delimiter)}`);
  }
  const rows: string[][] = [];
  const lines: number[] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false; // inside a quoted field
  let wasQuoted = false; // current field had quotes (so "" is an empty value, not a blank line)
  let line = 1;
  let rowLine = 1;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;

  const endRow = () => {
    row.push(field);
    const blank = row.length === 1 && row[0] === "" && !wasQuoted;
    if (!blank) { rows.push(row); lines.push(rowLine); }
    row = [];
    field = "";
    wasQuoted = false;
  };

  for (; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') { field += '"'; i++; } else quoted = false;
      } else {
        if (ch === "\n") line++;
        field += ch;
      }
    } else if (ch === '"') {
      if (field.trim() !== "") {
        throw new DataError("data.bad_cell", `${source}: line ${line}: a quote inside an unquoted field; quote the whole field`);
      }
      field = "";
      quoted = wasQuoted = true;
    } else if (ch === delimiter) {
      row.push(field);
      field = "";
      wasQuoted = false;
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i++;
      endRow();
      line++;
      rowLine = line;
    } else {
      field += ch;
    }
  }
  if (quoted) throw new DataError("data.bad_cell", `${source}: line ${rowLine}: a quoted field is never closed`);
  if (field !== "" || row.length > 0 || wasQuoted) endRow();
  return { rows, lines };
}
