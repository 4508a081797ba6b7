// Compiles TypeScript modules as an app that installed streamkernel sees
// them: 'streamkernel' is the built package itself in the app's node_modules
// (its package.json exports, dist/*.d.ts), under `strict`. Shared by the
// docs examples and the spec-type tests.
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = path.resolve(fileURLToPath(new URL('..', import.meta.url)));

/** One module's errors: its 0-based line and TS code and message. */
export interface AppDiagnostic {
  line: number;
  code: number;
  text: string;
}

/**
 * Writes each module (name → code) into `work`/src as an app, compiles them
 * together to `work`/out (emitted even with errors), and returns each
 * module's errors; errors outside the modules are thrown.
 */
export function compileApp(work: string, modules: ReadonlyMap<string, string>): Map<string, AppDiagnostic[]> {
  const src = path.join(work, 'src');
  mkdirSync(src, { recursive: true });
  mkdirSync(path.join(work, 'node_modules'));
  writeFileSync(path.join(work, 'package.json'), '{ "type": "module" }\n');
  symlinkSync(ROOT, path.join(work, 'node_modules', 'streamkernel'), 'dir');
  const files = [...modules].map(([name, code]) => {
    const f = path.join(src, `${name}.ts`);
    writeFileSync(f, code);
    return f;
  });
  // Vite's client types (what a Vite app has), for `?worker&url` imports.
  const program = ts.createProgram([...files, path.join(ROOT, 'node_modules', 'vite', 'client.d.ts')], {
    strict: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
    types: ['node'],
    typeRoots: [path.join(ROOT, 'node_modules', '@types')],
    skipLibCheck: true,
    outDir: path.join(work, 'out'),
    rootDir: src,
  });
  const emitted = program.emit();
  const found = new Map([...modules.keys()].map((name) => [name, [] as AppDiagnostic[]]));
  for (const d of [...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics]) {
    const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    const mine = d.file && found.get(path.basename(d.file.fileName, '.ts'));
    if (!mine || d.file === undefined || d.start === undefined) throw new Error(`compiling the app: ${text}`);
    mine.push({ line: d.file.getLineAndCharacterOfPosition(d.start).line, code: d.code, text });
  }
  return found;
}
