// Preloaded into a target (`node -r ./bench/probe.js …`): between a `start` and a `stop` from the
// parent (over the IPC channel), it measures the event-loop delay and the bytes V8 allocated, and,
// with `profile`, runs V8's CPU profiler. Until asked it does nothing; it changes nothing the
// target does but add these listeners.
'use strict';
const { monitorEventLoopDelay } = require('node:perf_hooks');
const { Session } = require('node:inspector');
const { writeFileSync } = require('node:fs');
const v8 = require('node:v8');

const usedHeap = () => v8.getHeapStatistics().used_heap_size;

/**
 * Bytes allocated on the V8 heap in the window. Between two collections the used heap only grows,
 * by what is allocated; a collection shrinks it by what it frees. So allocated = growth of the
 * used heap over the window + what every collection in it freed (GCProfiler records the used heap
 * before and after each one). Buffers' backing stores live outside the heap and are not counted.
 */
function allocatedSince(start, end, collections) {
  const freed = collections.reduce((sum, gc) => sum + gc.beforeGC.heapStatistics.usedHeapSize - gc.afterGC.heapStatistics.usedHeapSize, 0);
  return end - start + freed;
}

function postToProfiler(session, method, params = {}) {
  return new Promise((resolve, reject) => session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))));
}

let window;

// The histogram holds whole intervals between the monitor's timer ticks; less the resolution, the delay.
const RESOLUTION_MS = 5;

async function start({ profile }) {
  const delay = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  const gcProfiler = new v8.GCProfiler();
  let session;
  if (profile) {
    session = new Session();
    session.connect();
    await postToProfiler(session, 'Profiler.enable');
    await postToProfiler(session, 'Profiler.start');
  }
  delay.enable();
  gcProfiler.start();
  window = { delay, gcProfiler, session, heapAtStart: usedHeap() };
}

async function stop({ profileFile }) {
  const { delay, gcProfiler, session, heapAtStart } = window;
  const heapAtEnd = usedHeap();
  const { statistics } = gcProfiler.stop();
  delay.disable();
  if (session) {
    const { profile } = await postToProfiler(session, 'Profiler.stop');
    writeFileSync(profileFile, JSON.stringify(profile));
    session.disconnect();
  }
  window = undefined;
  return {
    delayP50Ms: Math.max(0, delay.percentile(50) / 1e6 - RESOLUTION_MS),
    delayP99Ms: Math.max(0, delay.percentile(99) / 1e6 - RESOLUTION_MS),
    delayMaxMs: Math.max(0, delay.max / 1e6 - RESOLUTION_MS),
    allocatedBytes: allocatedSince(heapAtStart, heapAtEnd, statistics),
    collections: statistics.length,
  };
}

if (process.send) {
  process.on('message', (message) => {
    if (message?.probe === 'start') start(message).then(() => process.send({ probe: 'started' }));
    if (message?.probe === 'stop') stop(message).then((result) => process.send({ probe: 'stopped', ...result }));
  });
  // The channel must not keep alive a target that would otherwise exit.
  process.channel.unref();
}
