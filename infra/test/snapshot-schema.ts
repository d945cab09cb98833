/**
 * Validation of snapshot.storage.k8s.io/v1 objects. kubernetes-models 4.x has no models for
 * them (they are CRDs), so they are checked against the CRDs' own OpenAPI schemas, as the API
 * server does: fixtures/snapshot-crds-v1.json holds them unchanged from csi-digitalocean's
 * v4.16.0 release manifest (its `source` field gives the file and commit).
 *
 * The CRDs also carry CEL rules (x-kubernetes-validations). Rules that compare with oldSelf
 * apply only to updates and are skipped; every other rule must be listed in CEL below, so a
 * new rule in a newer fixture fails loudly instead of being ignored.
 */
import { formats } from '@kubernetes-models/validate';
import Ajv, { type ValidateFunction } from 'ajv';
import fixture from './fixtures/snapshot-crds-v1.json';

type Schema = Record<string, any>;

/** The create-time CEL rules of the fixture, by rule text, as JavaScript. */
const CEL: Record<string, (self: any) => boolean> = {
  'has(self.name) && has(self.__namespace__)': (s) => s?.name !== undefined && s?.namespace !== undefined,
  '(has(self.volumeHandle) && !has(self.snapshotHandle)) || (!has(self.volumeHandle) && has(self.snapshotHandle))': (
    s,
  ) => (s?.volumeHandle !== undefined) !== (s?.snapshotHandle !== undefined),
  '(has(self.volumeSnapshotContentName) && !has(self.persistentVolumeClaimName)) || (!has(self.volumeSnapshotContentName) && has(self.persistentVolumeClaimName))':
    (s) => (s?.volumeSnapshotContentName !== undefined) !== (s?.persistentVolumeClaimName !== undefined),
  'size(self) > 0': (s) => typeof s === 'string' && s.length > 0,
};

// strict: false lets the x-kubernetes-* keywords through; the formats (date-time, ...) are
// those kubernetes-models validates its own models with.
const ajv = new Ajv({ allErrors: true, strict: false });
for (const [name, format] of Object.entries(formats)) ajv.addFormat(name, format);
const schemas = (fixture as { schemas: Record<string, Schema> }).schemas;
const compiled = new Map<string, ValidateFunction>();

/** Every CEL rule in `schema` applied to `value` (only where the value is present). */
function celProblems(schema: Schema | undefined, value: any, at: string, out: string[]): void {
  if (!schema || value === undefined) return;
  for (const v of (schema['x-kubernetes-validations'] ?? []) as { rule: string; message: string }[]) {
    if (v.rule.includes('oldSelf')) continue;
    const check = CEL[v.rule];
    if (!check) throw new Error(`no JavaScript for the CEL rule ${JSON.stringify(v.rule)} at ${at || '/'}`);
    if (!check(value)) out.push(`${at || '/'}: ${v.message}`);
  }
  if (schema.properties && value !== null && typeof value === 'object') {
    for (const [k, sub] of Object.entries(schema.properties as Record<string, Schema>)) {
      celProblems(sub, value[k], `${at}/${k}`, out);
    }
  }
}

export function hasSnapshotSchema(key: string): boolean {
  return key in schemas;
}

/** Throws with the schema errors when `obj` is not a valid object of its snapshot CRD. */
export function validateSnapshotObject(obj: any): void {
  const key = `${obj.apiVersion} ${obj.kind}`;
  const schema = schemas[key];
  if (!schema) throw new Error(`no snapshot CRD schema for ${key}`);
  const problems: string[] = [];
  let validate = compiled.get(key);
  if (!validate) compiled.set(key, (validate = ajv.compile(schema)));
  if (!validate(obj)) {
    for (const e of validate.errors ?? []) problems.push(`${e.instancePath || '/'}: ${e.message}`);
  }
  celProblems(schema, obj, '', problems);
  if (problems.length) throw new Error(`${obj.kind}/${obj.metadata?.name} is invalid: ${problems.join('; ')}`);
}
