// Validates an AsyncAPI document with @asyncapi/parser (the AsyncAPI specification's schema
// plus its Spectral rules): `node validate-asyncapi.mjs <file>`. Prints every diagnostic and
// exits 1 when any is an error, or when the document does not parse. tests/asyncapi.rs runs it
// on what `rift asyncapi` prints.
import { readFile } from 'node:fs/promises';
import { Parser, DiagnosticSeverity } from '@asyncapi/parser';

const path = process.argv[2];
if (!path) {
  console.error('usage: node validate-asyncapi.mjs <asyncapi.json>');
  process.exit(2);
}
const text = await readFile(path, 'utf8');
const { document, diagnostics } = await new Parser().parse(text);
const names = { [DiagnosticSeverity.Error]: 'error', [DiagnosticSeverity.Warning]: 'warning',
  [DiagnosticSeverity.Information]: 'info', [DiagnosticSeverity.Hint]: 'hint' };
for (const diagnostic of diagnostics) {
  const where = diagnostic.path.join('/') || '(document)';
  console.log(`${names[diagnostic.severity] ?? diagnostic.severity}: ${where}: ${diagnostic.message} [${diagnostic.code}]`);
}
const errors = diagnostics.filter((diagnostic) => diagnostic.severity === DiagnosticSeverity.Error);
if (!document || errors.length > 0) {
  console.log(`invalid: ${errors.length} error(s)`);
  process.exit(1);
}
console.log(`valid AsyncAPI ${document.version()}: ${document.operations().length} operations, ` +
  `${document.allMessages().length} messages`);
