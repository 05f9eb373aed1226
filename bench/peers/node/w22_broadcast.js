// W22 with node-ws: /room joins the broadcast room; /control takes a text "go K", runs K
// fan-outs of 64 B, 10 ms apart, and answers "fanouts=K ms_median=.. ms_max=.. closed=N
// members=M". A fan-out is ws.send to every open member; a member whose bufferedAmount (bytes
// node holds above the kernel's socket buffer) is past CAP has stopped reading and is
// terminated: cio's W22 cap is 8 KiB. node cannot shrink a socket's SO_SNDBUF, so the
// kernel holds more here before the cap is reached than on cio or gorilla.
const CAP = 8192;

function servers(WebSocket, opts) {
  const room = new Set();
  const member = new WebSocket.Server(opts);
  member.on('connection', (ws) => {
    room.add(ws);
    ws.on('close', () => room.delete(ws));
  });

  function fanout(data) {
    for (const ws of room) {
      if (ws.readyState !== WebSocket.OPEN) continue;
      if (ws.bufferedAmount > CAP) ws.terminate();
      else ws.send(data, {binary: true});
    }
  }

  async function run(ws, k) {
    const members = room.size;
    const ms = [];
    for (let i = 0; i < k; i++) {
      // Its own buffer each time: the sockets still hold the previous one.
      const data = Buffer.alloc(64, 'b');
      data.write(String(i).padStart(8, '0')); // the readers check the order
      const t0 = process.hrtime.bigint();
      fanout(data);
      ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    let open = 0;
    for (const m of room) open += m.readyState === WebSocket.OPEN;
    ms.sort((a, b) => a - b);
    ws.send(`fanouts=${k} ms_median=${ms[k >> 1].toFixed(3)} ms_max=${ms[k - 1].toFixed(3)} ` +
            `closed=${members - open} members=${members}`);
  }

  const control = new WebSocket.Server(opts);
  control.on('connection', (ws) => ws.on('message', (data) => {
    const m = /^go (\d+)$/.exec(String(data));
    if (m && Number(m[1]) > 0) run(ws, Number(m[1]));
  }));
  return {'/room': member, '/control': control};
}

module.exports = {servers};
