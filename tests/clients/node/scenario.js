// The shared client scenario (see tests/clients.rs) over node-postgres (`pg`).
//
//   node scenario.js        (PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE)
//
// Prints "ok <step>" per step and "SCENARIO PASSED <n> steps"; exits 77 with
// a "skip:" line when `pg` is not installed (npm install here), 1 on failure.
'use strict'

let pg
try {
  pg = require('pg')
} catch (e) {
  console.log('skip: node-postgres (pg) is not installed: ' + e.message)
  process.exit(77)
}
const assert = require('assert')

const TABLE = 'scenario_node'
const BIG = 'scenario_big_node'
const BIG_ROWS = 100000

// name, type, value written, value read back (text format, pg-types' parsers)
const COLUMNS = [
  ['b', 'boolean', true, true],
  ['i2', 'smallint', -12345, -12345],
  ['i4', 'integer', -2147483648, -2147483648],
  ['i8', 'bigint', '9223372036854775807', '9223372036854775807'],
  ['f4', 'real', 1.5, 1.5],
  ['f8', 'double precision', 3.141592653589793, 3.141592653589793],
  ['n', 'numeric(20,5)', '-12345.67890', '-12345.67890'],
  ['t', 'text', 'héllo, wörld ✓', 'héllo, wörld ✓'],
  ['vc', 'varchar(20)', 'varchar', 'varchar'],
  ['c', 'char(5)', 'ab', 'ab   '],
  ['by', 'bytea', Buffer.from([0, 1, 255, 97, 98, 99]), Buffer.from([0, 1, 255, 97, 98, 99])],
  ['d', 'date', '2024-02-29', '2024-02-29'],
  ['tm', 'time', '13:14:15.5', '13:14:15.5'],
  ['ts', 'timestamp', '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05.123456'],
  ['tz', 'timestamptz', '2024-01-02T03:04:05Z', new Date(Date.UTC(2024, 0, 2, 3, 4, 5))],
  ['iv', 'interval', '3 days 04:00:05', '3 days 04:00:05'],
  ['u', 'uuid', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'],
  ['j', 'json', JSON.stringify({ a: 1, b: [true, null] }), { a: 1, b: [true, null] }],
  ['jb', 'jsonb', JSON.stringify({ k: 'v', n: [1, 2] }), { k: 'v', n: [1, 2] }],
]
const NAMES = COLUMNS.map((c) => c[0])

// Text-format readers that keep date/time values as the server printed
// them; binary readers from the protocol's formats (pg-types' own mangle
// negative numbers), over the UTF-8 string node-postgres makes of the bytes.
const BINARY = {
  16: (b) => b[0] !== 0,
  20: (b) => b.readBigInt64BE(0).toString(),
  21: (b) => b.readInt16BE(0),
  23: (b) => b.readInt32BE(0),
  25: (b) => b.toString('utf8'),
  1042: (b) => b.toString('utf8'),
  1043: (b) => b.toString('utf8'),
}
const types = {
  getTypeParser(oid, format) {
    if (format === 'binary') {
      const f = BINARY[oid]
      if (!f) return (v) => v
      return (v) => f(Buffer.from(v, 'utf8'))
    }
    if ([1082, 1083, 1114, 1186].includes(oid)) return (s) => s
    return pg.types.getTypeParser(oid, format)
  },
}

function normalise(name, got) {
  if (name === 'iv' && got && typeof got === 'object') return got.toPostgres ? got.toPostgres() : got
  return got
}

async function main() {
  const config = { types }
  const conn = new pg.Client(config)
  await conn.connect()
  const steps = []
  const step = (name, f) => steps.push([name, f])
  const one = async (text, values) => (await conn.query(text, values)).rows[0]
  const sqlstate = async (f) => {
    try {
      await f()
    } catch (e) {
      return e.code
    }
    return 'no error'
  }
  const insert = `INSERT INTO ${TABLE} (id, ${NAMES.join(', ')}) VALUES (${[...Array(NAMES.length + 1).keys()].map((i) => '$' + (i + 1)).join(', ')})`

  step('connect with a SCRAM password', async () => {
    assert.strictEqual((await one('SELECT current_user AS u')).u, process.env.PGUSER)
  })
  step('create a table with every supported type', async () => {
    await conn.query('DROP TABLE IF EXISTS ' + TABLE)
    await conn.query(`CREATE TABLE ${TABLE} (id integer PRIMARY KEY, ${COLUMNS.map((c) => c[0] + ' ' + c[1]).join(', ')})`)
  })
  step('parameterised insert', async () => {
    const r = await conn.query(insert, [1, ...COLUMNS.map((c) => c[2])])
    assert.strictEqual(r.rowCount, 1)
    assert.strictEqual(r.command, 'INSERT')
  })
  step('parameterised insert of NULLs', async () => {
    const r = await conn.query(insert, [2, ...COLUMNS.map(() => null)])
    assert.strictEqual(r.rowCount, 1)
  })
  step('select in text format', async () => {
    const row = await one(`SELECT ${NAMES.join(', ')} FROM ${TABLE} WHERE id = $1`, [1])
    for (const [name, , , want] of COLUMNS) assert.deepStrictEqual(normalise(name, row[name]), want, 'column ' + name)
    const nulls = await one(`SELECT ${NAMES.join(', ')} FROM ${TABLE} WHERE id = $1`, [2])
    for (const name of NAMES) assert.strictEqual(nulls[name], null, 'NULL ' + name)
  })
  step('select in binary format', async () => {
    // node-postgres asks for binary results but reads every value as UTF-8
    // text, so only values whose binary form is valid UTF-8 survive: text
    // types, bool, and integers whose bytes are all below 0x80.
    const r = await conn.query({
      text: `SELECT id, b, t, vc, c, 300::int2 AS i2, (id + 4)::int4 AS i4, 291::int8 AS i8 FROM ${TABLE} WHERE id = $1`,
      values: [1],
      binary: true,
    })
    assert.deepStrictEqual(r.fields.map((f) => f.format), Array(8).fill('binary'))
    assert.deepStrictEqual({ ...r.rows[0] }, { id: 1, b: true, t: 'héllo, wörld ✓', vc: 'varchar', c: 'ab   ', i2: 300, i4: 5, i8: '291' })
    const nulls = await conn.query({ text: `SELECT b, i8, t, tz FROM ${TABLE} WHERE id = $1`, values: [2], binary: true })
    assert.deepStrictEqual({ ...nulls.rows[0] }, { b: null, i8: null, t: null, tz: null })
  })
  step('update', async () => {
    const r = await conn.query(`UPDATE ${TABLE} SET t = $1, i4 = i4 + 1 WHERE id = $2`, ['updated', 1])
    assert.strictEqual(r.rowCount, 1)
    assert.deepStrictEqual(await one(`SELECT t, i4 FROM ${TABLE} WHERE id = 1`), { t: 'updated', i4: -2147483647 })
  })
  step('delete', async () => {
    const r = await conn.query(`DELETE FROM ${TABLE} WHERE id = $1`, [2])
    assert.strictEqual(r.rowCount, 1)
    assert.strictEqual((await one(`SELECT count(*)::int AS n FROM ${TABLE}`)).n, 1)
  })
  step('a rolled-back transaction', async () => {
    await conn.query('BEGIN')
    await conn.query(`INSERT INTO ${TABLE} (id, t) VALUES ($1, $2)`, [10, 'rolled back'])
    await conn.query('ROLLBACK')
    assert.strictEqual((await one(`SELECT count(*)::int AS n FROM ${TABLE} WHERE id = 10`)).n, 0)
  })
  step('a committed transaction', async () => {
    await conn.query('BEGIN')
    await conn.query(`INSERT INTO ${TABLE} (id, t) VALUES ($1, $2)`, [11, 'committed'])
    await conn.query('COMMIT')
    assert.strictEqual((await one(`SELECT t FROM ${TABLE} WHERE id = 11`)).t, 'committed')
  })
  step('an error inside a transaction (25P02 until ROLLBACK)', async () => {
    await conn.query('BEGIN')
    assert.strictEqual(await sqlstate(() => conn.query(`SELECT 1 / (id - id) FROM ${TABLE}`)), '22012')
    assert.strictEqual(await sqlstate(() => conn.query('SELECT 1')), '25P02')
    assert.strictEqual(await sqlstate(() => conn.query('SELECT $1::int', [1])), '25P02')
    await conn.query('ROLLBACK')
    assert.strictEqual((await one('SELECT 1 AS x')).x, 1)
  })
  step('a unique violation (23505)', async () => {
    assert.strictEqual(await sqlstate(() => conn.query(`INSERT INTO ${TABLE} (id) VALUES ($1)`, [1])), '23505')
  })
  step('a prepared statement reused', async () => {
    for (let i = 0; i < 8; i++) {
      const hit = await conn.query({ name: 'scenario_q', text: `SELECT id, t FROM ${TABLE} WHERE id = $1`, values: [11] })
      assert.deepStrictEqual(hit.rows, [{ id: 11, t: 'committed' }])
      const miss = await conn.query({ name: 'scenario_q', text: `SELECT id, t FROM ${TABLE} WHERE id = $1`, values: [12345] })
      assert.deepStrictEqual(miss.rows, [])
    }
  })
  step('100k rows fetched', async () => {
    await conn.query(`DROP TABLE IF EXISTS ${BIG}`)
    await conn.query(`DROP TABLE IF EXISTS ${BIG}_digits`)
    await conn.query(`CREATE TABLE ${BIG}_digits (d integer)`)
    await conn.query(`INSERT INTO ${BIG}_digits VALUES (0),(1),(2),(3),(4),(5),(6),(7),(8),(9)`)
    await conn.query(`CREATE TABLE ${BIG} (n integer PRIMARY KEY)`)
    const dg = BIG + '_digits'
    await conn.query(`INSERT INTO ${BIG} SELECT a.d + 10 * b.d + 100 * c.d + 1000 * d.d + 10000 * e.d FROM ${dg} a, ${dg} b, ${dg} c, ${dg} d, ${dg} e`)
    await conn.query(`DROP TABLE ${dg}`)
    const r = await conn.query(`SELECT n, md5(n::text) AS h FROM ${BIG} ORDER BY n`)
    assert.strictEqual(r.rows.length, BIG_ROWS)
    let total = 0
    for (const row of r.rows) {
      total += row.n
      assert.strictEqual(row.h.length, 32)
    }
    assert.strictEqual(total, (BIG_ROWS * (BIG_ROWS - 1)) / 2)
  })
  step('a cancelled long query', async () => {
    const start = Date.now()
    const q = conn.query('SELECT pg_sleep(30)')
    await new Promise((r) => setTimeout(r, 500))
    new pg.Client(config).cancel(conn, conn.activeQuery)
    assert.strictEqual(await sqlstate(() => q), '57014')
    assert.ok(Date.now() - start < 10000, 'cancel took too long')
    assert.strictEqual((await one('SELECT 2 AS x')).x, 2)
  })

  for (const [name, f] of steps) {
    try {
      await f()
    } catch (e) {
      console.log('FAILED step: ' + name)
      console.log(e)
      process.exit(1)
    }
    console.log('ok ' + name)
  }
  await conn.query(`DROP TABLE ${TABLE}`)
  await conn.query(`DROP TABLE ${BIG}`)
  await conn.end()
  console.log(`SCENARIO PASSED ${steps.length} steps`)
}

main().catch((e) => {
  console.log('FAILED: ' + e.stack)
  process.exit(1)
})
