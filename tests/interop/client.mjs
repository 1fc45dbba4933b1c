// A fedtrade conformance client in JavaScript, written from the .proto files and
// docs/PROTOCOL.md only (it imports nothing from the Python implementation).
//
//   node client.mjs                checks the test vectors in tests/vectors/
//   node client.mjs CONFIG.json    also queries a live node over mutual TLS
//
// CONFIG.json: {"address", "node_id", "requester_id", "ca", "cert", "key",
// "signing_key", "node_public_key", "house_bills": n, "attestations": BLOCKS.jsonl} (file
// paths are PEM files; the blocks attest house bills HB000000...).
// Prints one JSON summary line on success; exits 1 with the reason otherwise.

import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";
import protobuf from "protobufjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "../..");
const VECTORS = path.join(ROOT, "tests", "vectors");
// The import path of the protos: the repository root sees them as fedtrade/protos/v2/.
const PROTO_FILES = ["envelope.proto", "query.proto", "node.proto"].map(
  (name) => `fedtrade/protos/v2/${name}`,
);
const PACKAGE = "fedtrade.protos.v2";
const PAYLOAD_QUERY = "application/vnd.fedtrade.query.v1+protobuf";
const PAYLOAD_ANSWER = "application/vnd.fedtrade.answer.v1+protobuf";
const PAYLOAD_CHUNK = "application/vnd.fedtrade.answer-chunk.v1+protobuf";
const STATUS_UNAUTHENTICATED = 16;

// ---- messages (protobufjs, from the .proto files) ----

function loadTypes() {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => path.join(ROOT, target);
  root.loadSync(PROTO_FILES, { keepCase: true });
  const type = (name) => root.lookupType(`${PACKAGE}.${name}`);
  return {
    Envelope: type("Envelope"),
    Query: type("Query"),
    Answer: type("Answer"),
    AnswerChunk: type("AnswerChunk"),
    Value: type("Value"),
    ColumnType: root.lookupEnum(`${PACKAGE}.ColumnType`).values,
  };
}

const T = loadTypes();
const decode = (type, bytes) => type.toObject(type.decode(bytes), { bytes: Buffer, oneofs: true });

// ---- the crypto of PROTOCOL.md ----

const hex = (bytes) => Buffer.from(bytes).toString("hex");
const sha256 = (bytes) => crypto.createHash("sha256").update(bytes).digest();

// DSSE v1 pre-authentication encoding: "DSSEv1" SP len(type) SP type SP len(payload) SP payload
function pae(payloadType, payload) {
  const type = Buffer.from(payloadType, "utf8");
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${payload.length} `), payload,
  ]);
}

// Ed25519 keys from raw bytes: fixed DER prefixes for PKCS8 (seed) and SPKI (public key).
const PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
const SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");
const privateFromSeed = (seed) =>
  crypto.createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: "der", type: "pkcs8" });
const publicFromRaw = (raw) =>
  crypto.createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: "der", type: "spki" });
const rawPublic = (key) => (key.type === "private" ? crypto.createPublicKey(key) : key)
  .export({ format: "der", type: "spki" }).subarray(SPKI_PREFIX.length);
const keyId = (key) => hex(sha256(rawPublic(key)));

function sign(payloadType, payload, privateKey) {
  const sig = crypto.sign(null, pae(payloadType, payload), privateKey);
  return { payload_type: payloadType, payload, signatures: [{ key_id: keyId(privateKey), sig }] };
}

// Verify first, then parse: returns the payload bytes signed by publicKey, or throws.
function verified(envelope, payloadType, publicKey) {
  assert.equal(envelope.payload_type, payloadType, "payload type");
  const id = keyId(publicKey);
  const mine = envelope.signatures.filter((s) => s.key_id === id);
  assert.ok(mine.length > 0, `no signature by key ${id}`);
  for (const s of mine) {
    assert.ok(crypto.verify(null, pae(payloadType, envelope.payload), publicKey, s.sig), "signature");
  }
  return envelope.payload;
}

// ---- Values and tables, as PROTOCOL.md maps them ----

function fromTable(table) {
  const rows = table.row_count ?? 0;
  const columns = {};
  for (const c of table.columns ?? []) {
    let values;
    switch (c.type) {
      case T.ColumnType.COLUMN_TYPE_TEXT: values = [...(c.texts ?? [])]; break;
      case T.ColumnType.COLUMN_TYPE_INTEGER: values = (c.integers ?? []).map(Number); break;
      case T.ColumnType.COLUMN_TYPE_NUMBER: values = [...(c.numbers ?? [])]; break;
      case T.ColumnType.COLUMN_TYPE_FLAG: values = [...(c.flags ?? [])]; break;
      case T.ColumnType.COLUMN_TYPE_TEXT_LIST: {
        values = [];
        let start = 0;
        for (const length of c.list_lengths ?? []) {
          values.push(c.texts.slice(start, start + length));
          start += length;
        }
        assert.equal(start, (c.texts ?? []).length, `column ${c.name}: list lengths`);
        break;
      }
      default: throw new Error(`column ${c.name}: unknown type ${c.type}`);
    }
    assert.equal(values.length, rows, `column ${c.name}: ${values.length} values for ${rows} rows`);
    for (const i of c.nulls ?? []) values[i] = null;
    assert.ok(!(c.name in columns), `column ${c.name} twice`);
    columns[c.name] = values;
  }
  return columns;
}

function fromValue(value) {
  switch (value.kind) {
    case undefined: return null;
    case "text": return value.text;
    case "integer": return Number(value.integer);
    case "number": return value.number;
    case "flag": return value.flag;
    case "texts": return [...(value.texts.values ?? [])];
    case "list": return (value.list.values ?? []).map(fromValue);
    case "record": return Object.fromEntries(
      Object.entries(value.record.fields ?? {}).map(([k, v]) => [k, fromValue(v)]));
    case "table": return fromTable(value.table);
    default: throw new Error(`unknown Value kind ${value.kind}`);
  }
}

const envelopeFromHex = (text) => decode(T.Envelope, Buffer.from(text, "hex"));

// ---- the test vectors ----

function checkSigned(vector, seed) {
  const payload = Buffer.from(vector.payload_hex, "hex");
  assert.equal(hex(pae(vector.payload_type, payload)), vector.pae_hex, "PAE bytes");
  assert.equal(hex(sha256(payload)), vector.payload_sha256_hex, "payload digest");
  const key = privateFromSeed(seed);
  const again = sign(vector.payload_type, payload, key);
  assert.deepEqual(
    again.signatures.map((s) => ({ key_id: s.key_id, sig_hex: hex(s.sig) })), vector.signatures,
    "Ed25519 signature (deterministic)");
  const envelope = envelopeFromHex(vector.envelope_hex);
  assert.ok(envelope.payload.equals(payload), "envelope payload");
  verified(envelope, vector.payload_type, crypto.createPublicKey(key));
  const flipped = { ...envelope, signatures: envelope.signatures.map((s) => {
    const sig = Buffer.from(s.sig);
    sig[5] ^= 0x40;
    return { ...s, sig };
  }) };
  assert.throws(() => verified(flipped, vector.payload_type, crypto.createPublicKey(key)));
  return envelope;
}

function checkChain(envelopes, request, nodeId, nodeKey) {
  const chunks = [];
  let previous = Buffer.alloc(0);
  envelopes.forEach((envelope, position) => {
    const chunk = decode(T.AnswerChunk, verified(envelope, PAYLOAD_CHUNK, nodeKey));
    assert.ok(chunk.request_digest.equals(sha256(request.payload)), "chunk bound to the request");
    assert.equal(chunk.node_id, nodeId, "chunk node id");
    assert.equal(chunk.sequence ?? 0, position, "chunk sequence");
    assert.ok((chunk.previous_chunk_digest ?? Buffer.alloc(0)).equals(previous), "chunk chain");
    assert.ok(chunks.length === 0 || !chunks.at(-1).last, "a chunk after the last one");
    previous = sha256(envelope.payload);
    chunks.push(chunk);
  });
  assert.ok(chunks.length > 0 && chunks.at(-1).last, "stream truncated before its last chunk");
  return chunks;
}

function checkVectors() {
  const load = (name) => JSON.parse(fs.readFileSync(path.join(VECTORS, name), "utf8"));
  const { keys } = load("keys.json");
  const seeds = {};
  for (const [name, key] of Object.entries(keys)) {
    const seed = sha256(Buffer.from(key.seed_phrase, "utf8"));
    assert.equal(hex(seed), key.seed_hex, `${name} seed`);
    const publicKey = crypto.createPublicKey(privateFromSeed(seed));
    assert.equal(hex(rawPublic(publicKey)), key.public_key_hex, `${name} public key`);
    assert.equal(keyId(publicKeyFromHex(key.public_key_hex)), key.key_id, `${name} key id`);
    seeds[name] = seed;
  }

  const { cases } = load("params.json");
  for (const c of cases) {
    const value = decode(T.Value, Buffer.from(c.value_hex, "hex"));
    assert.deepEqual(fromValue(value), c.plain, `parameter kind ${c.kind}`);
  }

  const query = load("query.json");
  const request = checkSigned(query, seeds.requester);
  const q = decode(T.Query, request.payload);
  const f = query.fields;
  assert.equal(hex(q.query_id), f.query_id_hex);
  for (const name of ["requester_id", "audience", "purpose", "legal_basis", "case_id",
    "officer_id", "query_name"]) assert.equal(q[name], f[name], name);
  assert.equal(Number(q.issued_at.seconds), f.issued_at.seconds);
  assert.equal(Number(q.expires_at.seconds), f.expires_at.seconds);
  assert.deepEqual(Object.keys(q.params).sort(), f.params);

  const answerVector = load("answer.json");
  const answerEnvelope = checkSigned(answerVector, seeds.node);
  const answer = decode(T.Answer, answerEnvelope.payload);
  assert.ok(answer.request_digest.equals(sha256(request.payload)), "answer bound to the query");
  assert.equal(answer.node_id, answerVector.fields.node_id);
  assert.deepEqual(fromTable(answer.table), answerVector.fields.table);

  const { chunks } = load("chunks.json");
  const envelopes = chunks.map((c) => checkSigned(c, seeds.node));
  const nodeKey = publicKeyFromHex(keys.node.public_key_hex);
  const decoded = checkChain(envelopes, request, answer.node_id, nodeKey);
  assert.deepEqual(decoded.map((c) => ({
    sequence: c.sequence ?? 0, last: c.last ?? false,
    previous_chunk_digest_hex: hex(c.previous_chunk_digest ?? []), table: fromTable(c.table),
  })), chunks.map((c) => c.fields), "chunk fields");
  assert.throws(() => checkChain([envelopes[1], envelopes[0], envelopes[2]], request,
    answer.node_id, nodeKey), /chunk sequence/);
  assert.throws(() => checkChain(envelopes.slice(0, 2), request, answer.node_id, nodeKey),
    /truncated/);
  return { keys: Object.keys(keys).length, params: cases.length, chunks: chunks.length };
}

function publicKeyFromHex(text) {
  return publicFromRaw(Buffer.from(text, "hex"));
}

// ---- a live node over mutual TLS ----

function timestamp(ms) {
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
}

// The filer's signed manifest blocks (DSSE JSON lines) the questions are about.
function attestations(config) {
  return fs.readFileSync(config.attestations, "utf8").split("\n").filter((l) => l.trim())
    .map((line) => JSON.parse(line)).map((b) => ({
      payload_type: b.payloadType,
      payload: Buffer.from(b.payload, "base64"),
      signatures: b.signatures.map((s) => ({ key_id: s.keyid, sig: Buffer.from(s.sig, "base64") })),
    }));
}

function signedQuery(config, signingKey, queryName, params) {
  const now = Date.now();
  const message = T.Query.fromObject({
    query_id: crypto.randomBytes(16),
    requester_id: config.requester_id,
    audience: config.node_id,
    issued_at: timestamp(now),
    expires_at: timestamp(now + 60_000),
    purpose: "TARGETING",
    legal_basis: "19 USC 1415",
    case_id: "INTEROP-1",
    officer_id: "interop-client",
    query_name: queryName,
    params,
    attestations: attestations(config),
  });
  const payload = Buffer.from(T.Query.encode(message).finish());
  return { query: message, envelope: sign(PAYLOAD_QUERY, payload, signingKey) };
}

function nodeClient(config) {
  const definition = protoLoader.loadSync(PROTO_FILES, {
    includeDirs: [ROOT], keepCase: true, longs: String, enums: String, defaults: true, oneofs: true,
  });
  const { NodeService } = grpc.loadPackageDefinition(definition).fedtrade.protos.v2;
  const read = (file) => fs.readFileSync(file);
  const credentials = grpc.credentials.createSsl(read(config.ca), read(config.key), read(config.cert));
  // Trust the node by its id: its certificate must name the node id, whatever the address.
  return new NodeService(config.address, credentials, {
    "grpc.ssl_target_name_override": config.node_id,
    "grpc.default_authority": config.node_id,
    "grpc.max_receive_message_length": 64 * 1024 * 1024,
  });
}

const unary = (client, method, request) => new Promise((resolve, reject) => {
  client[method](request, { deadline: Date.now() + 30_000 }, (error, reply) =>
    error ? reject(error) : resolve(reply));
});

const stream = (client, method, request) => new Promise((resolve, reject) => {
  const replies = [];
  const call = client[method](request, { deadline: Date.now() + 60_000 });
  call.on("data", (reply) => replies.push(reply));
  call.on("error", reject);
  call.on("end", () => resolve(replies));
});

async function checkLiveNode(config) {
  const signingKey = crypto.createPrivateKey(fs.readFileSync(config.signing_key));
  const nodeKey = crypto.createPublicKey(fs.readFileSync(config.node_public_key));
  const client = nodeClient(config);
  try {
    const bills = Array.from({ length: config.house_bills }, (_, i) =>
      `HB${String(i).padStart(6, "0")}`);
    const params = { house_bills: { texts: { values: bills } } };

    const asked = signedQuery(config, signingKey, "shipment_known", { house_bills: {
      texts: { values: bills.slice(0, 3) } } });
    const reply = await unary(client, "Query", { envelope: asked.envelope });
    const answer = decode(T.Answer, verified(reply.envelope, PAYLOAD_ANSWER, nodeKey));
    assert.ok(answer.request_digest.equals(sha256(asked.envelope.payload)), "answer binding");
    assert.ok(Buffer.from(answer.query_id).equals(Buffer.from(asked.query.query_id)), "query id");
    assert.equal(answer.node_id, config.node_id);
    assert.equal(answer.status, 1, "ANSWER_STATUS_OK");
    const table = fromTable(answer.table);
    assert.deepEqual(table.house_bill, bills.slice(0, 3));
    assert.ok(table.known.every((v) => typeof v === "boolean"), "known is a flag");

    const screened = signedQuery(config, signingKey, "shipment_known", params);
    const replies = await stream(client, "Screen", { envelope: screened.envelope });
    const chunks = checkChain(replies.map((r) => r.envelope), screened.envelope, config.node_id,
      nodeKey);
    const rows = chunks.flatMap((c) => fromTable(c.table).house_bill);
    assert.deepEqual(rows, bills, "every house bill once, in order");

    // A refusal is a status code: a query whose signature does not verify.
    const forged = signedQuery(config, signingKey, "shipment_known", params).envelope;
    forged.signatures[0].sig = Buffer.from(forged.signatures[0].sig);
    forged.signatures[0].sig[0] ^= 1;
    const refusal = await unary(client, "Query", { envelope: forged }).then(
      () => assert.fail("a forged query was answered"), (error) => error);
    assert.equal(refusal.code, STATUS_UNAUTHENTICATED, `refusal status ${refusal.code}`);

    return {
      query_id: hex(asked.query.query_id),
      screen_query_id: hex(screened.query.query_id),
      screen_chunks: chunks.length,
      screen_rows: rows.length,
      refusal: refusal.code,
    };
  } finally {
    client.close();
  }
}

async function main() {
  const summary = { vectors: checkVectors() };
  if (process.argv[2]) {
    summary.live = await checkLiveNode(JSON.parse(fs.readFileSync(process.argv[2], "utf8")));
  }
  console.log(JSON.stringify(summary));
}

main().catch((error) => {
  console.error(`interop client failed: ${error.message}`);
  process.exit(1);
});
