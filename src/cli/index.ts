import { runCli } from './program.js';

/** `npx keyport …` lands here (through bin/keyport.js). */
const code = await runCli(process.argv.slice(2), { env: process.env, stdout: process.stdout, stderr: process.stderr });
process.exitCode = code;
