import { Device } from './src/backend/device.ts';
import { createWasmBackend } from './src/backend/wasm/wasm-backend.ts';
const shapes = (process.argv[2] ?? '256,512,1024,2048').split(',').map(Number);
for (const relaxed of [true, false]) {
  const dev = new Device(await createWasmBackend({ threads: 2, relaxed }));
  for (const t of [1, 2]) {
    dev.setThreads(t); await new Promise(r => setTimeout(r, 300));
    for (const s of shapes) {
      const a = dev.allocStorage(s*s).ptr, b = dev.allocStorage(s*s).ptr, c = dev.allocStorage(s*s).ptr;
      dev.refreshViews(); for (let i=0;i<s*s;i++){dev.f32[a+i]=Math.random(); dev.f32[b+i]=Math.random();}
      for (const [ta, tb] of [[false,false],[false,true],[true,false]]) {
        dev.kernels.matmul(a,b,c,0,1,s,s,s,ta,tb,0,0,0,false);
        let best = Infinity, total = 0, reps = 0;
        while (total < 0.3e3 || reps < 3) { const t0=performance.now(); dev.kernels.matmul(a,b,c,0,1,s,s,s,ta,tb,0,0,0,false); const dt=performance.now()-t0; best=Math.min(best,dt); total+=dt; reps++; }
        console.log(`${relaxed?'relaxed':'muladd '} t=${t} ${s}^3 tA=${+ta} tB=${+tb}: ${(2*s**3/best/1e6).toFixed(1)} GFLOP/s`);
      }
    }
  }
  await dev.close();
}
