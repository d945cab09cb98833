/**
 * Schema validation of Kubernetes objects with kubernetes-models (4.x, CommonJS).
 * An object of a kind not listed here fails, so a new kind cannot slip past validation.
 */
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { hasSnapshotSchema, validateSnapshotObject } from './snapshot-schema';

type Model = { validate(): void };
const MODELS: Record<string, new (data: any) => Model> = {
  'apps/v1 Deployment': Deployment,
  'networking.k8s.io/v1 NetworkPolicy': NetworkPolicy,
  'policy/v1 PodDisruptionBudget': PodDisruptionBudget,
  'v1 PersistentVolumeClaim': PersistentVolumeClaim,
  'v1 Secret': Secret,
  'v1 Service': Service,
};

/** Throws with the object's kind/name and the schema errors when invalid. */
export function validateK8sObject(obj: any): void {
  const key = `${obj.apiVersion} ${obj.kind}`;
  if (hasSnapshotSchema(key)) return validateSnapshotObject(obj);
  const Model = MODELS[key];
  if (!Model) throw new Error(`no schema for ${key} (${obj.metadata?.name}); add its kubernetes-models class`);
  try {
    new Model(obj).validate();
  } catch (err) {
    throw new Error(`${obj.kind}/${obj.metadata?.name} is invalid: ${(err as Error).message}`, { cause: err });
  }
}
