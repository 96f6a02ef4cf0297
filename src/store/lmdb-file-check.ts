/**
 * A sanity check of an existing LMDB data file, run before handing it to the native
 * library: lmdb-js crashes the whole process (SIGSEGV) on a garbage or truncated
 * `data.mdb` instead of returning an error, so obvious damage must be caught here.
 *
 * The first two pages of `data.mdb` are meta pages. Byte layout of each (little endian,
 * offsets from the start of the page, as written by lmdb-js 3.x on 64-bit hosts):
 *
 * ```
 *   0  .. 23   page header
 *   24 .. 27   u32  magic 0xBEEFC0DE
 *   28 .. 31   u32  format version
 *   48 .. 51   u32  page size (pad field of the free-page database record)
 *   144 .. 151 u64  last used page number
 *   152 .. 159 u64  id of the transaction that wrote this meta page
 * ```
 *
 * The live meta page is the one with the higher transaction id; the file must hold
 * every page up to its last used page. Damage inside data pages cannot be detected
 * without reading the whole tree and is not attempted.
 */
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { SentinelError } from '../errors.js';

const DATA_FILE = 'data.mdb';
const META_MAGIC = 0xbeefc0de;
const OFF_MAGIC = 24;
const OFF_PAGE_SIZE = 48;
const OFF_LAST_PAGE = 144;
const OFF_TXN_ID = 152;
const META_BYTES = 160;
const MIN_PAGE_SIZE = 512;
const MAX_PAGE_SIZE = 65536;

interface MetaPage {
  pageSize: number;
  lastPage: bigint;
  txnId: bigint;
}

/**
 * Throws `E_STORE` when `dir/data.mdb` exists, is not empty, and is not a plausible
 * LMDB file. A missing or empty file is fine: LMDB initialises it.
 */
export async function checkLmdbDataFile(dir: string): Promise<void> {
  const file = join(dir, DATA_FILE);
  const size = await fileSize(file);
  if (size === 0) return;
  const fh = await open(file, 'r');
  try {
    const first = await readMeta(fh, 0, file);
    if (size < first.pageSize * 2) throw corrupt(file, 'truncated before the second meta page');
    const second = await readMeta(fh, first.pageSize, file);
    const live = second.txnId > first.txnId ? second : first;
    if (BigInt(size) < (live.lastPage + 1n) * BigInt(first.pageSize)) {
      throw corrupt(file, 'truncated: file is shorter than its last used page');
    }
  } finally {
    await fh.close();
  }
}

async function fileSize(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw new SentinelError('E_STORE', `cannot stat ${file}`, { cause: err });
  }
}

async function readMeta(
  fh: Awaited<ReturnType<typeof open>>,
  position: number,
  file: string,
): Promise<MetaPage> {
  const buf = Buffer.alloc(META_BYTES);
  const { bytesRead } = await fh.read(buf, 0, META_BYTES, position);
  if (bytesRead < META_BYTES) throw corrupt(file, 'truncated meta page');
  if (buf.readUInt32LE(OFF_MAGIC) !== META_MAGIC) throw corrupt(file, 'bad meta page magic');
  const pageSize = buf.readUInt32LE(OFF_PAGE_SIZE);
  if (!isPlausiblePageSize(pageSize)) throw corrupt(file, `implausible page size ${pageSize}`);
  return { pageSize, lastPage: buf.readBigUInt64LE(OFF_LAST_PAGE), txnId: buf.readBigUInt64LE(OFF_TXN_ID) };
}

function isPlausiblePageSize(n: number): boolean {
  // A power of two in range.
  return n >= MIN_PAGE_SIZE && n <= MAX_PAGE_SIZE && (n & (n - 1)) === 0;
}

function corrupt(file: string, why: string): SentinelError {
  return new SentinelError('E_STORE', `${file} is not a valid LMDB file (${why})`);
}
