#!/usr/bin/env node
// Launcher only: check the Node version before importing anything that needs a recent one. The floor is
// package.json's `engines.node` (a test keeps the two, and the README, equal).
const FLOOR = '22.22.2';
const older = (version, floor) => {
  const [a, b] = [version, floor].map((v) => v.split('.').map(Number));
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] < b[i];
  return false;
};
if (older(process.versions.node, FLOOR)) {
  process.stderr.write(
    `ldap2moodle needs Node.js ${FLOOR} or newer; this is Node.js ${process.versions.node}.\n` +
      'Install a current Node.js 22 LTS (or newer) and run the command again.\n',
  );
  process.exit(1);
}
const { main } = await import('../dist/cli/main.js');
await main(process.argv.slice(2));
