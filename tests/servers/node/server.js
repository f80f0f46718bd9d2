#!/usr/bin/env node
// An AgentPhone Conversations API server (the current edition) on Node.js, standard
// library only: `http` for the server, `crypto` for comparing API keys.
//
// Written from the vendor's reference page for PATCH /v1/conversations/:conversation_id
// and the neighbouring operations it shares a resource with:
//
//   GET   /v1/conversations?limit=&offset=            {data, hasMore, total}, newest first
//   GET   /v1/conversations/:id?message_limit=        the conversation and its recent messages
//   PATCH /v1/conversations/:id                       {metadata?: object|null, group_name?: string|null}
//
// JSON is JavaScript's own (JSON.parse / JSON.stringify): integers beyond 2^53 round to
// the nearest double, -0 is written 0, keys come out in JavaScript's property order.
// Metadata is stored as JSON text, as a database column would hold it.
//
// Errors: validation errors (422) in FastAPI's shape, {"detail": [{loc, msg, type}]},
// as the reference page documents; every other error in the vendor's envelope,
// {"error": {message, code, type, details: []}}. Bodies over 100 KB (Express's default
// limit) are refused with 413 and never stored.
//
// Test support: GET /testing/state (loopback clients only, no key) answers the accounts,
// every conversation's metadata and the metadata as seeded.
//
// Usage: node server.js [--host 127.0.0.1] [--port 0] [--exit-with-stdin]
// Once listening it prints one JSON line on stdout: {"listening": "http://host:port", "port": N}.
// --exit-with-stdin: exit when stdin closes (the parent process has gone).

'use strict';

const http = require('node:http');
const crypto = require('node:crypto');

const BODY_LIMIT = 100 * 1024; // bytes: Express's default json() limit, '100kb'
const MAX_METADATA_DEPTH = 64; // nesting levels a metadata value may have
const PREVIEW_LENGTH = 100; // characters of the last message in a list summary
const PATCH_MESSAGE_LIMIT = 50; // messages a PATCH answer carries (GET's default)
const EDITION = 'current';

// ----------------------------------------------------------------------------- errors

const ERROR_KINDS = {
  400: ['BAD_REQUEST', 'invalid_request_error'],
  401: ['UNAUTHORIZED', 'authentication_error'],
  404: ['NOT_FOUND', 'not_found'],
  405: ['METHOD_NOT_ALLOWED', 'invalid_request_error'],
  413: ['PAYLOAD_TOO_LARGE', 'invalid_request_error'],
  415: ['UNSUPPORTED_MEDIA_TYPE', 'invalid_request_error'],
  431: ['REQUEST_HEADER_FIELDS_TOO_LARGE', 'invalid_request_error'],
  500: ['INTERNAL_ERROR', 'api_error'],
};

class ApiError extends Error {
  constructor(status, message, headers = {}) {
    super(message);
    this.status = status;
    this.headers = headers;
  }

  get body() {
    const [code, type] = ERROR_KINDS[this.status] || ['INVALID_REQUEST', 'invalid_request_error'];
    return { error: { message: this.message, code, type, details: [] } };
  }
}

/** A 422: FastAPI's body, a list of {loc, msg, type}. */
class ValidationError extends Error {
  constructor(errors) {
    super('validation failed');
    this.status = 422;
    this.headers = {};
    this.errors = errors;
  }

  get body() {
    return { detail: this.errors };
  }
}

const notFound = () => new ApiError(404, 'Conversation not found');

// ------------------------------------------------------------------------------ store

const at = (text) => new Date(text);

function seedData() {
  const accounts = [
    { id: 'acct_nd_4Hq7Ls', apiKey: 'apk_node_6c1f0e93b47a4d2e8f15a0b9c7d3e284' },
    { id: 'acct_nd_9Tw2Kx', apiKey: 'apk_node_e2a7d5c80f1b4396a4e7c1d09b6f5a31' },
  ];
  const conversations = [
    {
      id: 'cnv_node_6e41a9d2f03b',
      accountId: 'acct_nd_4Hq7Ls',
      phoneNumberId: 'pn_node_3a8c51',
      phoneNumber: '+13035550117',
      participant: '+17205550163',
      agentId: 'agt_node_31c8e5',
      channel: 'sms',
      isGroup: false,
      groupId: null,
      groupName: null,
      groupIconUrl: null,
      participants: null,
      metadata: { customer: { name: 'Inès Moreau', tier: 'gold' }, caseId: 'CS-20931', openItems: 3 },
      createdAt: at('2025-04-02T08:15:09Z'),
      messages: [
        {
          id: 'msg_node_0a1b2c',
          body: 'Hello, the router you sent me keeps rebooting.',
          fromNumber: '+17205550163',
          toNumber: '+13035550117',
          direction: 'inbound',
          receivedAt: at('2025-04-02T08:15:09Z'),
          channel: 'sms',
          mediaUrls: [],
          senderIdentifier: '+17205550163',
          replyToId: null,
          status: 'received',
          reactions: [],
        },
        {
          id: 'msg_node_1c2d3e',
          body: 'Sorry to hear that! Could you send a photo of the status lights?',
          fromNumber: '+13035550117',
          toNumber: '+17205550163',
          direction: 'outbound',
          receivedAt: at('2025-04-02T08:16:44Z'),
          channel: 'sms',
          mediaUrls: [],
          senderIdentifier: '+13035550117',
          replyToId: null,
          status: 'delivered',
          reactions: [
            {
              id: 'rxn_node_71aa0f',
              reactionType: 'like',
              fromNumber: '+17205550163',
              direction: 'inbound',
              createdAt: at('2025-04-02T08:17:02Z'),
            },
          ],
        },
        {
          id: 'msg_node_2e3f4a',
          body: 'Front and back.',
          fromNumber: '+17205550163',
          toNumber: '+13035550117',
          direction: 'inbound',
          receivedAt: at('2025-04-02T08:21:37Z'),
          channel: 'mms',
          mediaUrls: [
            'https://media.agentphone.ai/m/node-2e3f/front.jpg',
            'https://media.agentphone.ai/m/node-2e3f/back.jpg',
          ],
          senderIdentifier: '+17205550163',
          replyToId: 'msg_node_1c2d3e',
          status: 'received',
          reactions: [],
        },
        {
          id: 'msg_node_3a4b5c',
          body: 'Thanks Inès, a replacement ships today; the label is on its way.',
          fromNumber: '+13035550117',
          toNumber: '+17205550163',
          direction: 'outbound',
          receivedAt: at('2025-04-02T08:25:50Z'),
          channel: 'sms',
          mediaUrls: [],
          senderIdentifier: '+13035550117',
          replyToId: null,
          status: 'read',
          reactions: [
            {
              id: 'rxn_node_82bb1e',
              reactionType: 'love',
              fromNumber: '+17205550163',
              direction: 'inbound',
              createdAt: at('2025-04-02T08:26:13Z'),
            },
          ],
        },
      ],
    },
    {
      id: 'cnv_node_b27f05c8e914',
      accountId: 'acct_nd_4Hq7Ls',
      phoneNumberId: 'pn_node_5d0e72',
      phoneNumber: '+13035550140',
      participant: 'grp_node_hk24',
      agentId: null,
      channel: 'imessage',
      isGroup: true,
      groupId: 'grp_node_hk24',
      groupName: 'Hiking crew',
      groupIconUrl: null,
      participants: [
        { identifier: '+17205550188', name: 'Sam Okafor' },
        { identifier: 'lea@example.org', name: null },
      ],
      metadata: null,
      createdAt: at('2025-04-05T17:40:00Z'),
      messages: [],
    },
    {
      id: 'cnv_node_d5903e1a7c62',
      accountId: 'acct_nd_9Tw2Kx',
      phoneNumberId: 'pn_node_8f1a24',
      phoneNumber: '+16175550102',
      participant: '+18575550179',
      agentId: 'agt_node_7e02b4',
      channel: 'sms',
      isGroup: false,
      groupId: null,
      groupName: null,
      groupIconUrl: null,
      participants: null,
      metadata: { ticket: 'N-77', priority: 1 },
      createdAt: at('2025-03-30T12:02:45Z'),
      messages: [
        {
          id: 'msg_node_9f8e7d',
          body: 'Can I move my appointment to Friday?',
          fromNumber: '+18575550179',
          toNumber: '+16175550102',
          direction: 'inbound',
          receivedAt: at('2025-03-30T12:02:45Z'),
          channel: 'sms',
          mediaUrls: [],
          senderIdentifier: '+18575550179',
          replyToId: null,
          status: 'received',
          reactions: [],
        },
      ],
    },
  ];
  return { accounts, conversations };
}

class Store {
  constructor() {
    const { accounts, conversations } = seedData();
    this.accounts = accounts;
    this.conversations = new Map();
    for (const { metadata, ...record } of conversations) {
      this.conversations.set(record.id, { ...record, metadataJson: toStoredJson(metadata) });
    }
    this.seeded = this.metadataSnapshot();
  }

  /** The account an API key belongs to, or null. Compares digests in constant time. */
  accountForKey(key) {
    const given = crypto.createHash('sha256').update(key, 'utf8').digest();
    let found = null;
    for (const account of this.accounts) {
      const known = crypto.createHash('sha256').update(account.apiKey, 'utf8').digest();
      if (crypto.timingSafeEqual(given, known)) found = account;
    }
    return found;
  }

  /** One of the account's conversations; another account's is as unknown as a missing one. */
  find(accountId, conversationId) {
    const record = this.conversations.get(conversationId);
    return record && record.accountId === accountId ? record : null;
  }

  ofAccount(accountId) {
    return [...this.conversations.values()].filter((r) => r.accountId === accountId);
  }

  metadataSnapshot() {
    const snapshot = {};
    for (const record of this.conversations.values()) {
      snapshot[record.id] = fromStoredJson(record.metadataJson);
    }
    return snapshot;
  }
}

function toStoredJson(value) {
  return value === null ? null : JSON.stringify(value);
}

function fromStoredJson(text) {
  return text === null ? null : JSON.parse(text);
}

// ---------------------------------------------------------------------------- answers

const iso = (date) => date.toISOString();
const byNewest = (a, b) => b.receivedAt - a.receivedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

function newestMessages(record) {
  return [...record.messages].sort(byNewest);
}

function lastActivity(record) {
  const [latest] = newestMessages(record);
  return latest ? latest.receivedAt : record.createdAt;
}

function conversationFields(record) {
  return {
    id: record.id,
    phoneNumberId: record.phoneNumberId,
    phoneNumber: record.phoneNumber,
    participant: record.participant,
    lastMessageAt: iso(lastActivity(record)),
    messageCount: record.messages.length,
    createdAt: iso(record.createdAt),
  };
}

function groupFields(record) {
  return {
    agentId: record.agentId,
    metadata: fromStoredJson(record.metadataJson),
    channel: record.channel,
    isGroup: record.isGroup,
    groupId: record.groupId,
    groupName: record.groupName,
    groupIconUrl: record.groupIconUrl,
    participants: record.participants && record.participants.map((p) => ({ ...p })),
  };
}

function renderMessage(record, message) {
  const original = message.replyToId && record.messages.find((m) => m.id === message.replyToId);
  return {
    id: message.id,
    body: message.body,
    fromNumber: message.fromNumber,
    toNumber: message.toNumber,
    direction: message.direction,
    receivedAt: iso(message.receivedAt),
    channel: message.channel,
    mediaUrl: message.mediaUrls.length > 0 ? message.mediaUrls[0] : null,
    mediaUrls: [...message.mediaUrls],
    reactions: message.reactions.map((r) => ({
      id: r.id,
      reactionType: r.reactionType,
      fromNumber: r.fromNumber,
      direction: r.direction,
      createdAt: iso(r.createdAt),
    })),
    senderIdentifier: message.senderIdentifier,
    replyTo: original
      ? { messageId: original.id, message: original.body, mediaUrls: [...original.mediaUrls] }
      : null,
    status: message.status,
  };
}

function renderConversation(record, messageLimit) {
  const messages = newestMessages(record).slice(0, messageLimit);
  return {
    ...conversationFields(record),
    messages: messages.map((m) => renderMessage(record, m)),
    ...groupFields(record),
  };
}

function renderSummary(record) {
  const [latest] = newestMessages(record);
  const preview = latest ? Array.from(latest.body).slice(0, PREVIEW_LENGTH).join('') : null;
  return { ...conversationFields(record), ...groupFields(record), lastMessagePreview: preview };
}

// ------------------------------------------------------------------------- validation

/** An integer query parameter within bounds; its default when absent. */
function integerParam(params, name, { fallback, min, max }, errors) {
  if (!params.has(name)) return fallback;
  const raw = params.get(name);
  const loc = ['query', name];
  if (!/^[+-]?\d+$/.test(raw)) {
    errors.push({ loc, msg: 'Input should be a valid integer', type: 'int_parsing' });
    return fallback;
  }
  const value = Number(raw);
  if (value < min) {
    errors.push({ loc, msg: `Input should be greater than or equal to ${min}`, type: 'greater_than_equal' });
  } else if (max !== undefined && value > max) {
    errors.push({ loc, msg: `Input should be less than or equal to ${max}`, type: 'less_than_equal' });
  }
  return value;
}

const isPlainObject = (value) => value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * The first reason `value` cannot be stored and sent back as the JSON it came from, or null:
 * numbers JSON.parse turned into Infinity (1e400), nesting deeper than we keep.
 */
function unstorable(value, loc, depth) {
  if (typeof value === 'number' && !Number.isFinite(value)) {
    return { loc, msg: 'Input should be a finite number', type: 'finite_number' };
  }
  if (value === null || typeof value !== 'object') return null;
  if (depth > MAX_METADATA_DEPTH) {
    return {
      loc,
      msg: `Value error, metadata may be nested at most ${MAX_METADATA_DEPTH} levels deep`,
      type: 'value_error',
    };
  }
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  for (const [key, item] of entries) {
    const problem = unstorable(item, [...loc, key], depth + 1);
    if (problem) return problem;
  }
  return null;
}

/** The changes a PATCH body asks for: {metadata?, groupName?}. Unknown members are ignored. */
function parseUpdate(body) {
  if (!isPlainObject(body)) {
    throw new ValidationError([
      {
        loc: ['body'],
        msg: 'Input should be a valid dictionary or object to extract fields from',
        type: 'model_attributes_type',
      },
    ]);
  }
  const errors = [];
  const changes = {};
  if (Object.hasOwn(body, 'metadata')) {
    const metadata = body.metadata;
    const loc = ['body', 'metadata'];
    if (metadata === null) {
      changes.metadata = null;
    } else if (!isPlainObject(metadata)) {
      errors.push({ loc, msg: 'Input should be a valid dictionary', type: 'dict_type' });
    } else {
      const problem = unstorable(metadata, loc, 1);
      if (problem) errors.push(problem);
      else changes.metadata = metadata;
    }
  }
  if (Object.hasOwn(body, 'group_name')) {
    const groupName = body.group_name;
    if (groupName === null || typeof groupName === 'string') {
      changes.groupName = groupName;
    } else {
      errors.push({ loc: ['body', 'group_name'], msg: 'Input should be a valid string', type: 'string_type' });
    }
  }
  if (errors.length > 0) throw new ValidationError(errors);
  return changes;
}

// ---------------------------------------------------------------------- request body

/** The raw body, at most `limit` bytes; past it a 413, the rest read and dropped. */
function readBody(req, limit) {
  return new Promise((resolve, reject) => {
    const tooLarge = () =>
      new ApiError(413, `Request body is larger than the limit of ${limit} bytes`);
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > limit) {
      req.resume(); // drain, so the client can read the answer
      reject(tooLarge());
      return;
    }
    const chunks = [];
    let size = 0;
    let settled = false;
    req.on('data', (chunk) => {
      if (settled) return;
      size += chunk.length;
      if (size > limit) {
        settled = true;
        chunks.length = 0;
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!settled) {
        settled = true;
        resolve(Buffer.concat(chunks));
      }
    });
    req.on('error', (err) => {
      if (!settled) {
        settled = true;
        reject(err);
      }
    });
  });
}

/** Refuse what is not JSON (415); a charset other than UTF-8 too. No header: read as JSON. */
function checkJsonMediaType(header) {
  if (header === undefined) return;
  const [essence, ...parameters] = header.split(';');
  const mediaType = essence.trim().toLowerCase();
  const json = mediaType === 'application/json' || /^application\/[^\s/]+\+json$/.test(mediaType);
  if (!json) {
    throw new ApiError(415, `Unsupported content type ${JSON.stringify(mediaType)}: send application/json`);
  }
  for (const parameter of parameters) {
    const [name, ...rest] = parameter.split('=');
    if (name.trim().toLowerCase() !== 'charset') continue;
    const charset = rest.join('=').trim().replace(/^"(.*)"$/, '$1').toLowerCase();
    if (charset !== 'utf-8' && charset !== 'utf8') {
      throw new ApiError(415, `Unsupported charset ${JSON.stringify(charset)}: send UTF-8`);
    }
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The JSON body, or undefined when there is none. Malformed: 400, as Express answers. */
async function jsonBody(req) {
  const raw = await readBody(req, BODY_LIMIT);
  if (raw.length === 0) return undefined;
  checkJsonMediaType(req.headers['content-type']);
  let text;
  try {
    text = utf8.decode(raw);
  } catch {
    throw new ApiError(400, 'Request body is not valid UTF-8');
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ApiError(400, `Request body is not valid JSON: ${err.message}`);
  }
}

// ---------------------------------------------------------------------------- routing

const BEARER_CHALLENGE = 'Bearer realm="agentphone"';

function authenticate(req, store) {
  const header = req.headers.authorization;
  const match = header === undefined ? null : /^Bearer +(\S+) *$/i.exec(header);
  if (!match) {
    throw new ApiError(401, 'Missing API key: send Authorization: Bearer <api key>', {
      'WWW-Authenticate': BEARER_CHALLENGE,
    });
  }
  const account = store.accountForKey(match[1]);
  if (!account) {
    throw new ApiError(401, 'Invalid API key', {
      'WWW-Authenticate': `${BEARER_CHALLENGE}, error="invalid_token"`,
    });
  }
  return account;
}

function allow(req, methods) {
  const method = req.method === 'HEAD' ? 'GET' : req.method; // Node sends no body for HEAD
  if (!methods.includes(method)) {
    const allowed = methods.includes('GET') ? ['GET', 'HEAD', ...methods.filter((m) => m !== 'GET')] : methods;
    throw new ApiError(405, `Method ${req.method} is not allowed here`, { Allow: allowed.join(', ') });
  }
  return method;
}

function listConversations(params, account, store) {
  const errors = [];
  const limit = integerParam(params, 'limit', { fallback: 20, min: 1, max: 100 }, errors);
  const offset = integerParam(params, 'offset', { fallback: 0, min: 0 }, errors);
  if (errors.length > 0) throw new ValidationError(errors);
  const records = store
    .ofAccount(account.id)
    .sort((a, b) => lastActivity(b) - lastActivity(a) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const page = records.slice(offset, offset + limit);
  return { data: page.map(renderSummary), hasMore: offset + page.length < records.length, total: records.length };
}

function getConversation(params, account, store, conversationId) {
  const errors = [];
  const messageLimit = integerParam(params, 'message_limit', { fallback: 50, min: 1, max: 100 }, errors);
  if (errors.length > 0) throw new ValidationError(errors);
  const record = store.find(account.id, conversationId);
  if (!record) throw notFound();
  return renderConversation(record, messageLimit);
}

async function updateConversation(req, account, store, conversationId) {
  const body = await jsonBody(req);
  const changes = parseUpdate(body === undefined ? {} : body);
  const record = store.find(account.id, conversationId);
  if (!record) throw notFound();
  if (Object.hasOwn(changes, 'metadata')) record.metadataJson = toStoredJson(changes.metadata);
  if (Object.hasOwn(changes, 'groupName') && record.isGroup) record.groupName = changes.groupName;
  return renderConversation(record, PATCH_MESSAGE_LIMIT);
}

function isLoopback(address) {
  return address === '::1' || /^(::ffff:)?127\./.test(address || '');
}

function testingState(store) {
  return {
    accounts: store.accounts.map((a) => [a.apiKey, store.ofAccount(a.id).map((r) => r.id)]),
    metadata: store.metadataSnapshot(),
    seeded: store.seeded,
    edition: EDITION,
  };
}

/** The path's segments, percent-decoded, without a trailing empty one; null if undecodable. */
function pathSegments(target) {
  const path = target.split('?', 1)[0];
  const segments = path.split('/').slice(1);
  if (segments.length > 1 && segments[segments.length - 1] === '') segments.pop();
  try {
    return segments.map(decodeURIComponent);
  } catch {
    return null;
  }
}

async function route(req, store) {
  const target = req.url || '/';
  const query = target.includes('?') ? target.slice(target.indexOf('?') + 1) : '';
  const params = new URLSearchParams(query);
  const segments = pathSegments(target);
  if (segments === null) throw new ApiError(404, 'Not found');

  if (segments.length === 2 && segments[0] === 'testing' && segments[1] === 'state') {
    if (!isLoopback(req.socket.remoteAddress)) throw new ApiError(404, 'Not found');
    allow(req, ['GET']);
    return [200, testingState(store)];
  }
  if (segments[0] !== 'v1') throw new ApiError(404, 'Not found');

  const account = authenticate(req, store);
  if (segments.length === 2 && segments[1] === 'conversations') {
    allow(req, ['GET']);
    return [200, listConversations(params, account, store)];
  }
  if (segments.length === 3 && segments[1] === 'conversations' && segments[2] !== '') {
    const method = allow(req, ['GET', 'PATCH']);
    if (method === 'GET') return [200, getConversation(params, account, store, segments[2])];
    return [200, await updateConversation(req, account, store, segments[2])];
  }
  throw new ApiError(404, 'Not found');
}

function send(res, status, body, headers = {}) {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(text);
}

function createServer(store = new Store()) {
  const server = http.createServer(async (req, res) => {
    try {
      const [status, body] = await route(req, store);
      send(res, status, body);
    } catch (err) {
      if (err instanceof ApiError || err instanceof ValidationError) {
        send(res, err.status, err.body, err.headers);
      } else {
        console.error(err);
        send(res, 500, new ApiError(500, 'An unexpected error occurred').body);
      }
    }
  });
  // Requests Node cannot parse as HTTP: answer in the envelope too, then close.
  server.on('clientError', (err, socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    const text = JSON.stringify(new ApiError(status, 'Malformed HTTP request').body);
    socket.end(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\n` +
        'Content-Type: application/json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(text)}\r\n` +
        'Connection: close\r\n\r\n' +
        text,
    );
  });
  return server;
}

// ------------------------------------------------------------------------------- main

function parseArgs(argv) {
  const options = { host: '127.0.0.1', port: 0, exitWithStdin: false };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--host') options.host = argv[++i];
    else if (arg === '--port') options.port = Number(argv[++i]);
    else if (arg === '--exit-with-stdin') options.exitWithStdin = true;
    else throw new Error(`unknown argument ${arg}`);
  }
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
    throw new Error('--port takes an integer from 0 to 65535');
  }
  return options;
}

function main() {
  const options = parseArgs(process.argv.slice(2));
  const server = createServer();
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    server.close(() => process.exit(0));
    server.closeAllConnections();
    setTimeout(() => process.exit(0), 1000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  if (options.exitWithStdin) {
    process.stdin.on('end', stop);
    process.stdin.on('close', stop);
    process.stdin.resume();
  }
  server.listen(options.port, options.host, () => {
    const { port } = server.address();
    const host = options.host.includes(':') ? `[${options.host}]` : options.host;
    process.stdout.write(`${JSON.stringify({ listening: `http://${host}:${port}`, port })}\n`);
  });
}

if (require.main === module) {
  main();
}

module.exports = { createServer, Store, BODY_LIMIT };
