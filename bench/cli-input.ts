// The CLI benches' input (bench/cli.ts, bench/cli-scaling.ts).
import { writeFileSync } from 'node:fs';

/** Keys k0 … k999. */
export const KEYS = 1000;

/** The benches' seeded xorshift: uniforms in [0, 1), the same sequence every run. */
export function xorshift(): () => number {
  let s = 0x9e3779b9;
  return (): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

/** The input: `t,k,v`, a seeded xorshift picks the key and the value; row i's time is origin + i ms. */
export function makeInput(file: string, rows: number, origin = 0): void {
  const rand = xorshift();
  const parts: string[] = ['t,k,v\n'];
  for (let i = 0; i < rows; i++) parts.push(`${origin + i},k${Math.floor(rand() * KEYS)},${(rand() * 1000).toFixed(3)}\n`);
  writeFileSync(file, parts.join(''));
}
