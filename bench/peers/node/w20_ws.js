// W20/W21 with node-ws (Debian's node-ws): an echo server on 127.0.0.1:P at /echo.
// note=W22 (broadcast) not implemented for this peer.
const WebSocket = require('ws');
const port = Number((process.argv.find((a) => a.startsWith('--port=')) || '--port=0').slice(7));
const wss = new WebSocket.Server({host: '127.0.0.1', port, path: '/echo', perMessageDeflate: false,
                                  maxPayload: 1 << 20});
wss.on('listening', () => console.error(`w20-ws: node-ws listening on 127.0.0.1:${port}`));
wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, {binary: isBinary})));
for (const s of ['SIGTERM', 'SIGINT']) process.on(s, () => process.exit(0));
