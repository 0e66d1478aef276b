/**
 * A streaming RFC 4180 parser: quoted fields, doubled quotes, delimiters and line breaks inside
 * quotes, CRLF / LF / CR line endings, a leading BOM. Text is pushed in chunks of any size;
 * complete records come back with the line they start on, so errors can name it.
 */

export interface CsvRow {
  fields: string[];
  /** 1-based line where the record starts. */
  line: number;
  /** Set when the record is malformed (it still carries what could be read). */
  error?: string;
}

/** A quoted field longer than this is almost surely an unterminated quote swallowing the file. */
export const MAX_FIELD_CHARS = 64 * 1024 * 1024;

const QUOTE = 34;
const LF = 10;
const CR = 13;

const enum State {
  FieldStart,
  Unquoted,
  Quoted,
  /** Just read a quote inside a quoted field: either an escaped quote or the closing one. */
  QuoteInQuoted,
  /** Just ended a record on CR: a following LF belongs to the same line ending. */
  AfterCr,
}

export class CsvParser {
  private readonly delim: number;
  private state = State.FieldStart;
  private fields: string[] = [];
  private field = '';
  private quoted = false;
  private line = 1;
  private recordLine = 1;
  private error: string | undefined;
  private started = false;

  constructor(delimiter = ',') {
    if (delimiter.length !== 1) throw new Error(`CSV delimiter must be one character, got '${delimiter}'`);
    this.delim = delimiter.charCodeAt(0);
  }

  /** Feed the next chunk; returns the records it completed. Throws on a runaway quoted field. */
  push(chunk: string): CsvRow[] {
    const out: CsvRow[] = [];
    let s = chunk;
    if (!this.started) {
      this.started = true;
      if (s.charCodeAt(0) === 0xfeff) s = s.slice(1);
    }
    const n = s.length;
    const d = this.delim;
    let i = 0;
    while (i < n) {
      switch (this.state) {
        case State.AfterCr:
          if (s.charCodeAt(i) === LF) i++;
          this.state = State.FieldStart;
          break;
        case State.FieldStart:
          if (s.charCodeAt(i) === QUOTE) {
            this.quoted = true;
            this.state = State.Quoted;
            i++;
            break;
          }
          this.state = State.Unquoted;
        // falls through
        case State.Unquoted: {
          let j = i;
          let c = 0;
          while (j < n) {
            c = s.charCodeAt(j);
            if (c === d || c === LF || c === CR) break;
            j++;
          }
          if (j > i) this.field += s.slice(i, j);
          i = j;
          if (j === n) break;
          i++;
          this.endField();
          if (c === d) this.state = State.FieldStart;
          else {
            this.endRecord(out);
            this.state = c === CR ? State.AfterCr : State.FieldStart;
          }
          break;
        }
        case State.Quoted: {
          const q = s.indexOf('"', i);
          const end = q < 0 ? n : q;
          for (let nl = s.indexOf('\n', i); nl >= 0 && nl < end; nl = s.indexOf('\n', nl + 1)) this.line++;
          this.field += s.slice(i, end);
          if (this.field.length > MAX_FIELD_CHARS) {
            throw new Error(`quoted field starting on line ${this.recordLine} runs past ${MAX_FIELD_CHARS} characters; is a closing quote missing?`);
          }
          i = end;
          if (q >= 0) {
            i++;
            this.state = State.QuoteInQuoted;
          }
          break;
        }
        case State.QuoteInQuoted: {
          const c = s.charCodeAt(i);
          if (c === QUOTE) {
            this.field += '"';
            i++;
            this.state = State.Quoted;
          } else {
            if (c !== d && c !== LF && c !== CR && this.error === undefined) {
              this.error = `unexpected character '${s[i]}' after the closing quote of field ${this.fields.length + 1}`;
            }
            // Anything after the closing quote is kept as written, like Python's csv module does.
            this.state = State.Unquoted;
          }
          break;
        }
      }
    }
    return out;
  }

  /** The input is over: returns the last record if it had no line ending. */
  end(): CsvRow[] {
    const out: CsvRow[] = [];
    if (this.state === State.Quoted) {
      this.error ??= `quoted field ${this.fields.length + 1} is never closed`;
    }
    const pending = this.fields.length > 0 || this.field !== '' || this.quoted;
    if (pending && this.state !== State.AfterCr) {
      this.endField();
      this.endRecord(out);
    }
    this.state = State.FieldStart;
    return out;
  }

  private endField(): void {
    this.fields.push(this.field);
    this.field = '';
  }

  private endRecord(out: CsvRow[]): void {
    const fields = this.fields;
    // A blank line is not a record (as in Python's csv.DictReader).
    const blank = fields.length === 1 && fields[0] === '' && !this.quoted;
    if (!blank) {
      const row: CsvRow = { fields, line: this.recordLine };
      if (this.error !== undefined) row.error = this.error;
      out.push(row);
    }
    this.fields = [];
    this.quoted = false;
    this.error = undefined;
    this.line++;
    this.recordLine = this.line;
  }
}

/** Parse a whole string (for tests and small inputs). */
export function parseCsv(text: string, delimiter = ','): CsvRow[] {
  const p = new CsvParser(delimiter);
  return [...p.push(text), ...p.end()];
}
