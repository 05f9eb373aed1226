// W20-W22 with node-ws (Debian's node-ws): a WebSocket server on 127.0.0.1:P, /echo sends
// every message back; W22's /room and /control are in w22_broadcast.js.
const http = require('http');
const path = require('path');
const WebSocket = require('ws');
const broadcast = require(path.join(__dirname, 'w22_broadcast.js'));

const port = Number((process.argv.find((a) => a.startsWith('--port=')) || '--port=0').slice(7));
const opts = {noServer: true, perMessageDeflate: false, maxPayload: 1 << 20};
const echo = new WebSocket.Server(opts);
echo.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, {binary: isBinary})));
const routes = {'/echo': echo, ...broadcast.servers(WebSocket, opts)};

const server = http.createServer((req, res) => res.writeHead(404).end());
server.on('upgrade', (req, socket, head) => {
  const wss = routes[req.url.split('?')[0]];
  if (!wss) return socket.destroy();
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
});
server.listen(port, '127.0.0.1', 4096,
              () => console.error(`w20-ws: node-ws listening on 127.0.0.1:${port}`));
for (const s of ['SIGTERM', 'SIGINT']) process.on(s, () => process.exit(0));
