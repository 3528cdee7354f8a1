/**
 * A restricted Python unpickler (protocols 0-5, the opcodes torch.save and pickle.dump emit).
 *
 * Nothing from the file is executed: GLOBAL / STACK_GLOBAL look the name up in the caller's
 * allow-list and throw `PickleSecurityError` naming any other global *before* anything else
 * happens, and REDUCE / NEWOBJ / BUILD only ever reach JS functions or inert `PyObject`
 * records that the allow-list produced. Opcodes that would call arbitrary classes (INST, OBJ,
 * EXT*) are refused. Python values map to JS as: None -> null, int -> number (bigint past
 * 2^53), str -> string, bytes -> Uint8Array, tuple/list -> array, dict -> Map, set -> Set.
 */

export class PickleError extends Error {
  override name = "PickleError";
}

/** A global that is not on the allow-list; `global` is "module.name". */
export class PickleSecurityError extends PickleError {
  override name = "PickleSecurityError";
  constructor(readonly global: string, source: string) {
    super(`${source}: refused global ${global}: it is not on the allow-list of the restricted unpickler (nothing was executed)`);
  }
}

/** An instance of an allow-listed class: its constructor args and the state BUILD gave it. */
export class PyObject {
  state: unknown = undefined;
  constructor(readonly cls: string, readonly args: unknown[]) {}
  /** The `__dict__` entry `key` of the state (a Map after BUILD). */
  get(key: string): unknown {
    const state = Array.isArray(this.state) ? this.state[0] : this.state;
    return state instanceof Map ? state.get(key) : undefined;
  }
}

/** What an allow-listed global turns into when called (REDUCE / NEWOBJ). */
export type GlobalHandler = { kind: "class" } | { kind: "function"; call: (args: unknown[]) => unknown } | { kind: "value"; value: unknown };

export class PyGlobal {
  constructor(readonly qualname: string, readonly handler: GlobalHandler) {}
}

export interface UnpickleOptions {
  /** Returns the handler for "module.name", or undefined to refuse it. */
  resolveGlobal(qualname: string): GlobalHandler | undefined;
  /** Resolves PERSID / BINPERSID ids (torch uses them for storages). */
  persistentLoad?: (pid: unknown) => unknown;
  /** Named in errors. */
  source?: string;
}

const MARK = Symbol("mark");
const decoder = new TextDecoder("utf-8", { fatal: true });
const latin1 = new TextDecoder("latin1");

/** Reads one pickle starting at `start`; returns the value and the offset after STOP. */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions, start = 0): { value: unknown; end: number } {
  const source = options.source ?? "<pickle>";
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  let pos = start;

  const fail = (message: string): never => { throw new PickleError(`${source}: ${message} (at byte ${pos})`); };
  const need = (n: number) => { if (pos + n > bytes.length) fail("truncated pickle"); };
  const u8 = () => { need(1); return bytes[pos++]!; };
  const u16 = () => { need(2); const v = view.getUint16(pos, true); pos += 2; return v; };
  const u32 = () => { need(4); const v = view.getUint32(pos, true); pos += 4; return v; };
  const i32 = () => { need(4); const v = view.getInt32(pos, true); pos += 4; return v; };
  const u64 = () => { need(8); const v = view.getBigUint64(pos, true); pos += 8; if (v > BigInt(bytes.length)) fail("length exceeds file"); return Number(v); };
  const take = (n: number) => { need(n); const b = bytes.subarray(pos, pos + n); pos += n; return b; };
  const line = () => { const end = bytes.indexOf(0x0a, pos); if (end < 0) fail("unterminated line"); const s = latin1.decode(bytes.subarray(pos, end)); pos = end + 1; return s; };
  const pop = () => { if (stack.length === 0 || stack[stack.length - 1] === MARK) fail("stack underflow"); return stack.pop(); };
  const popMark = () => { const m = marks.pop(); if (m === undefined) fail("no MARK"); const items = stack.splice(m!); items.shift(); return items; };
  const top = () => { if (stack.length === 0) fail("empty stack"); return stack[stack.length - 1]; };
  const utf8 = (b: Uint8Array) => { try { return decoder.decode(b); } catch { return fail("bad UTF-8 string"); } };

  const global = (module: string, name: string) => {
    // Python 2 pickles (protocol <= 2) spell builtins "__builtin__".
    const qualname = `${module === "__builtin__" ? "builtins" : module}.${name}`;
    const handler = options.resolveGlobal(qualname);
    if (!handler) throw new PickleSecurityError(qualname, source);
    return new PyGlobal(qualname, handler);
  };
  const call = (callable: unknown, args: unknown): unknown => {
    if (!(callable instanceof PyGlobal)) return fail("REDUCE/NEWOBJ on something that is not an allow-listed global");
    if (!Array.isArray(args)) return fail(`arguments of ${callable.qualname} are not a tuple`);
    const h = callable.handler;
    if (h.kind === "function") return h.call(args);
    if (h.kind === "class") return new PyObject(callable.qualname, args);
    return fail(`${callable.qualname} is not callable`);
  };
  const setItems = (target: unknown, items: unknown[]) => {
    if (!(target instanceof Map)) fail("SETITEMS on a non-dict");
    for (let i = 0; i + 1 < items.length; i += 2) (target as Map<unknown, unknown>).set(items[i], items[i + 1]);
  };
  const long = (b: Uint8Array): number | bigint => {
    if (b.length === 0) return 0;
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
    if (b[b.length - 1]! & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: u8(); break; // PROTO
      case 0x95: u64(); break; // FRAME: framing is only a read-ahead hint
      case 0x2e: return { value: pop(), end: pos }; // STOP
      case 0x28: marks.push(stack.length); stack.push(MARK); break; // MARK
      case 0x29: stack.push([]); break; // EMPTY_TUPLE
      case 0x74: stack.push(popMark()); break; // TUPLE
      case 0x85: stack.push([pop()]); break; // TUPLE1
      case 0x86: { const b = pop(); stack.push([pop(), b]); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); stack.push([pop(), b, c]); break; } // TUPLE3
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x6c: stack.push(popMark()); break; // LIST
      case 0x61: { const v = pop(); const l = top(); if (!Array.isArray(l)) fail("APPEND on a non-list"); (l as unknown[]).push(v); break; }
      case 0x65: { const items = popMark(); const l = top(); if (!Array.isArray(l)) fail("APPENDS on a non-list"); (l as unknown[]).push(...items); break; }
      case 0x7d: stack.push(new Map()); break; // EMPTY_DICT
      case 0x64: { const m = new Map(); setItems(m, popMark()); stack.push(m); break; } // DICT
      case 0x73: { const v = pop(); const k = pop(); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const items = popMark(); setItems(top(), items); break; } // SETITEMS
      case 0x8f: stack.push(new Set()); break; // EMPTY_SET
      case 0x90: { const items = popMark(); const s = top(); if (!(s instanceof Set)) fail("ADDITEMS on a non-set"); items.forEach((i) => (s as Set<unknown>).add(i)); break; }
      case 0x91: stack.push(new Set(popMark())); break; // FROZENSET
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x49: { const s = line(); stack.push(s === "01" ? true : s === "00" ? false : Number.parseInt(s, 10)); break; } // INT
      case 0x4a: stack.push(i32()); break; // BININT
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x4c: { const s = line().replace(/L$/, ""); const v = BigInt(s); stack.push(Number.isSafeInteger(Number(v)) ? Number(v) : v); break; } // LONG
      case 0x8a: stack.push(long(take(u8()))); break; // LONG1
      case 0x8b: stack.push(long(take(u32()))); break; // LONG4
      case 0x47: { need(8); stack.push(view.getFloat64(pos, false)); pos += 8; break; } // BINFLOAT (big-endian)
      case 0x46: stack.push(Number.parseFloat(line())); break; // FLOAT
      case 0x53: { // STRING: a quoted Python 2 str literal
        const s = line();
        if (s.length < 2 || s[0] !== s[s.length - 1] || (s[0] !== "'" && s[0] !== '"')) fail("malformed STRING");
        stack.push(s.slice(1, -1).replace(/\\(x[0-9a-fA-F]{2}|.)/g, (_, e: string) => (e[0] === "x" ? String.fromCharCode(Number.parseInt(e.slice(1), 16)) : ({ n: "\n", t: "\t", r: "\r" } as Record<string, string>)[e] ?? e)));
        break;
      }
      case 0x54: stack.push(latin1.decode(take(u32()))); break; // BINSTRING (py2 str)
      case 0x55: stack.push(latin1.decode(take(u8()))); break; // SHORT_BINSTRING
      case 0x58: stack.push(utf8(take(u32()))); break; // BINUNICODE
      case 0x8c: stack.push(utf8(take(u8()))); break; // SHORT_BINUNICODE
      case 0x8d: stack.push(utf8(take(u64()))); break; // BINUNICODE8
      case 0x42: stack.push(take(u32()).slice()); break; // BINBYTES
      case 0x43: stack.push(take(u8()).slice()); break; // SHORT_BINBYTES
      case 0x8e: case 0x96: stack.push(take(u64()).slice()); break; // BINBYTES8, BYTEARRAY8
      case 0x63: { const module = line(); stack.push(global(module, line())); break; } // GLOBAL
      case 0x93: { const name = pop(); const module = pop(); if (typeof module !== "string" || typeof name !== "string") fail("STACK_GLOBAL needs two strings"); stack.push(global(module as string, name as string)); break; }
      case 0x52: { const args = pop(); stack.push(call(pop(), args)); break; } // REDUCE
      case 0x81: { const args = pop(); stack.push(call(pop(), args)); break; } // NEWOBJ
      case 0x92: { pop(); const args = pop(); stack.push(call(pop(), args)); break; } // NEWOBJ_EX (kwargs ignored)
      case 0x62: { const state = pop(); const obj = top(); if (obj instanceof PyObject) obj.state = state; break; } // BUILD: other targets keep no state
      case 0x70: memo.set(Number.parseInt(line(), 10), top()); break; // PUT
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x67: { const k = Number.parseInt(line(), 10); if (!memo.has(k)) fail(`memo ${k} missing`); stack.push(memo.get(k)); break; } // GET
      case 0x68: { const k = u8(); if (!memo.has(k)) fail(`memo ${k} missing`); stack.push(memo.get(k)); break; } // BINGET
      case 0x6a: { const k = u32(); if (!memo.has(k)) fail(`memo ${k} missing`); stack.push(memo.get(k)); break; } // LONG_BINGET
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: stack.push(top()); break; // DUP
      case 0x50: case 0x51: { // PERSID, BINPERSID
        const pid = op === 0x50 ? line() : pop();
        if (!options.persistentLoad) fail("persistent id without a persistent loader");
        stack.push(options.persistentLoad!(pid));
        break;
      }
      default:
        // INST, OBJ, EXT1/2/4 and buffers instantiate or look up arbitrary objects: never.
        fail(`unsupported or refused opcode 0x${op.toString(16).padStart(2, "0")}`);
    }
  }
}
