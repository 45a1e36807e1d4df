#!/usr/bin/env node
// The `tinyllm` command. Registers tsx so that lib/ runs as TypeScript with no build step.
import { register } from 'tsx/esm/api';

register();
await import('./main.ts');
