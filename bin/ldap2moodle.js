#!/usr/bin/env node
// Launcher only: check the Node version before importing anything that needs a recent one.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 22)) {
  process.stderr.write(
    `ldap2moodle needs Node.js 22.22 or newer; this is Node.js ${process.versions.node}.\n` +
      'Install a current Node.js 22 LTS (or newer) and run the command again.\n',
  );
  process.exit(1);
}
const { main } = await import('../dist/cli/main.js');
await main(process.argv.slice(2));
