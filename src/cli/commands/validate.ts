import { Option } from 'clipanion';
import { checkSourceFiles, checkSpec, printable, UserError } from '../../index.js';
import { SpecCommand } from '../base-command.js';

/** One problem as `validate --json` lists it: where (file, line, column, JSON path) and its stable code. */
interface ValidationProblem {
  readonly code: string;
  readonly message: string;
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
  readonly path?: string;
}

export class ValidateCommand extends SpecCommand {
  static override paths = [['validate']];
  static override usage = SpecCommand.Usage({
    description: 'Check a sync spec without reading the directory or Moodle',
    details:
      'Validates the spec against its JSON Schema, checks its templates and that the files it names exist (the bases it extends, transcoding CSVs, the LDIF file, the CA file). It never connects and never needs the secrets: `${env:…}` and `${file:…}` references are checked for form only. Every problem is listed with its file, line and column; `--json` prints them as JSON (code, message, file, line, column, JSON path). Exit code 0 when valid, 1 otherwise.',
    examples: [
      ['Validate the collège example', '$0 validate --spec examples/college/ldap2moodle.yaml'],
      ['Problems as JSON, for an editor or CI', '$0 validate --spec site.yaml --json'],
    ],
  });

  json = Option.Boolean('--json', false, { description: 'Print the result as JSON: { valid, spec, problems }' });

  async run(): Promise<number> {
    if (!this.json) {
      const loaded = await this.loadSpec({ resolveSecrets: false });
      checkSpec(loaded);
      await checkSourceFiles(loaded);
      this.context.stdout.write(`${printable(loaded.path)}: valid\n`);
      return 0;
    }
    let problems: ValidationProblem[] = [];
    try {
      const loaded = await this.loadSpec({ resolveSecrets: false });
      checkSpec(loaded);
      await checkSourceFiles(loaded);
    } catch (error) {
      if (!(error instanceof UserError)) throw error;
      problems = toProblems(error);
    }
    const result = { valid: problems.length === 0, spec: this.spec, problems };
    this.context.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return problems.length === 0 ? 0 : 1;
  }
}

function toProblems(error: UserError): ValidationProblem[] {
  if (error.diagnostics.length === 0) return [{ code: error.code, message: error.message }];
  return error.diagnostics.map((d) => ({
    code: error.code,
    message: d.message,
    ...(d.position !== undefined ? { file: d.position.file, line: d.position.line, column: d.position.column } : {}),
    ...(d.path !== undefined && d.path !== '' ? { path: d.path } : {}),
  }));
}
