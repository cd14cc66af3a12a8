// A V8 CPU profile (.cpuprofile, as `node --cpu-prof` writes) summarised by component: a
// node_modules package, a libs/ai/src folder, a gateway src/ folder, a Node core module, or V8's
// own (garbage collector), (program) and (idle).
'use strict';
const { readFileSync } = require('node:fs');
const { join } = require('node:path');

// The gateway runs the compiled code: libs/ai/dist and dist mirror libs/ai/src and src.
const LIBRARY_DIST = `${join(__dirname, '..', 'libs', 'ai', 'dist')}/`;
const GATEWAY_DIST = `${join(__dirname, '..', 'dist')}/`;
const folderUnder = (root, file) => file.slice(root.length).split('/').slice(0, -1)[0] ?? '';

/** The component a script URL belongs to; undefined for a frame without one (native, builtin). */
function componentOf(url) {
  if (!url) return undefined;
  const packageAt = url.lastIndexOf('/node_modules/');
  if (packageAt >= 0) {
    const [scopeOrName, name] = url.slice(packageAt + '/node_modules/'.length).split('/');
    return scopeOrName.startsWith('@') ? `${scopeOrName}/${name}` : scopeOrName;
  }
  if (url.startsWith('node:')) return `node:${url.replace(/^node:(internal\/)?/, '').split('/')[0]}`;
  const file = url.replace(/^file:\/\//, '');
  if (file.startsWith(LIBRARY_DIST)) return `libs/ai/src/${folderUnder(LIBRARY_DIST, file)}`;
  if (file.startsWith(GATEWAY_DIST)) return `src/${folderUnder(GATEWAY_DIST, file)}`;
  if (file.startsWith(__dirname)) return 'bench (the probe)';
  return file;
}

/** Rows of { component, selfMs, selfPercent, totalPercent }, the busiest first. */
function summariseProfile(file) {
  const { nodes, samples, timeDeltas } = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(nodes.map((node) => [node.id, node]));
  const parentOf = new Map();
  for (const node of nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);

  // A frame without a script (a builtin such as JSON.parse, a native binding) is charged to the
  // nearest caller that has one; V8's pseudo-frames — (garbage collector), (program), (idle) — stand alone.
  const selfComponent = new Map();
  const stackComponents = new Map();
  for (const node of nodes) {
    const stack = new Set();
    let self;
    for (let id = node.id; id !== undefined; id = parentOf.get(id)) {
      const component = componentOf(byId.get(id).callFrame.url);
      if (component === undefined) continue;
      self ??= component;
      stack.add(component);
    }
    const name = node.callFrame.functionName;
    self ??= name.startsWith('(') ? name : '(native, no JavaScript caller)';
    stack.add(self);
    selfComponent.set(node.id, self);
    stackComponents.set(node.id, stack);
  }

  const self = new Map();
  const total = new Map();
  let allMs = 0;
  // timeDeltas[i] is the time from sample i − 1 to sample i: so sample i lasted timeDeltas[i + 1]
  // (the first delta, from the profiler's start to its first sample, belongs to no sample).
  samples.forEach((id, i) => {
    const ms = (timeDeltas[i + 1] ?? 0) / 1000;
    allMs += ms;
    self.set(selfComponent.get(id), (self.get(selfComponent.get(id)) ?? 0) + ms);
    for (const component of stackComponents.get(id)) total.set(component, (total.get(component) ?? 0) + ms);
  });
  return [...self.entries()]
    .map(([component, ms]) => ({ component, selfMs: ms, selfPercent: (100 * ms) / allMs, totalPercent: (100 * total.get(component)) / allMs }))
    .sort((a, b) => b.selfMs - a.selfMs)
    .slice(0, 25);
}

module.exports = { summariseProfile };
