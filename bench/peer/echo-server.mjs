// The named peer of the benchmarks: a Node vscode-jsonrpc server on stdio that speaks
// the same lifecycle as the daemon and answers colab/diag/echo with its params.
// It is what a daemon written in TypeScript with Microsoft's own JSON-RPC library would
// be at its leanest: no host, no logging, no probes.
//   node bench/peer/echo-server.mjs
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { createMessageConnection, StreamMessageReader, StreamMessageWriter, ResponseError } = require('vscode-jsonrpc/node');

const connection = createMessageConnection(new StreamMessageReader(process.stdin), new StreamMessageWriter(process.stdout));

let initialized = false;
let shutDown = false;

connection.onRequest('initialize', () => {
  initialized = true;
  return {
    capabilities: { experimental: { colab: { protocolVersion: '1', methods: ['initialize', 'initialized', 'shutdown', 'exit', 'colab/diag/echo'], serverStatusNotifications: false } } },
    serverInfo: { name: 'vscode-jsonrpc-echo-peer', version: '9.0.0' },
  };
});
connection.onNotification('initialized', () => {});
connection.onRequest('colab/diag/echo', (params) => {
  if (!initialized) {
    return new ResponseError(-32002, 'Server not initialized');
  }
  return params === undefined ? null : params;
});
connection.onRequest('shutdown', () => {
  shutDown = true;
  return null;
});
connection.onNotification('exit', () => process.exit(shutDown ? 0 : 1));
connection.onClose(() => process.exit(shutDown ? 0 : 1));
connection.listen();
