/**
 * A local stand-in for DigitalOcean Managed Valkey (`--redis managed`), as the managed
 * service runs (infra/managed-redis.ts): a redis-server that accepts only TLS, with a
 * password, no append-only file, and RDB dumps on the managed schedule (`rdb`: one dump at
 * most every 10 minutes when keys changed) or none (`off`). It is an emulation: the process
 * is redis-server, not Valkey, and a SIGKILL stands in for a crash of the managed node.
 *
 * The certificate authority is made here with the `openssl` CLI (Node can verify X.509 but
 * not issue it); the chat replicas trust it through Node's standard NODE_EXTRA_CA_CERTS.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { managedEmulationArgs, MANAGED_SNAPSHOT_SECONDS, type ManagedPersistence } from '../../infra/managed-redis';
import type { RedisPlan } from '../../infra/persistence';

export interface TlsFiles {
  /** The certificate authority: what NODE_EXTRA_CA_CERTS points at. */
  caFile: string;
  certFile: string;
  keyFile: string;
}

export class ManagedEmulationError extends Error {}

function openssl(args: string[], cwd: string): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new ManagedEmulationError(
      'openssl is not installed; the managed emulation needs it to make its certificates (Debian/Ubuntu: sudo apt-get install openssl)',
    );
  }
  if (r.status !== 0) throw new ManagedEmulationError(`openssl ${args[0]} failed: ${(r.stderr || '').trim()}`);
}

/**
 * A certificate authority and a server certificate for 127.0.0.1 and localhost, in `dir`;
 * made once and kept (so a replica started later still trusts the same CA).
 */
export function ensureTlsFiles(dir: string): TlsFiles {
  const files = {
    caFile: path.join(dir, 'ca.crt'),
    certFile: path.join(dir, 'server.crt'),
    keyFile: path.join(dir, 'server.key'),
  };
  if (Object.values(files).every((f) => fs.existsSync(f))) return files;
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const days = '3650';
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      days,
      '-subj',
      '/CN=doks-chat local managed-database CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  openssl(
    ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost'],
    dir,
  );
  fs.writeFileSync(
    path.join(dir, 'server.ext'),
    'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n',
  );
  openssl(
    [
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'server.crt',
      '-days',
      days,
      '-extfile',
      'server.ext',
    ],
    dir,
  );
  return files;
}

/** The redis-server plan of the managed service's persistence; the data dir stays across kills only with rdb. */
export function managedPlan(persistence: ManagedPersistence, snapshotSeconds = MANAGED_SNAPSHOT_SECONDS): RedisPlan {
  return {
    args: managedEmulationArgs(persistence, snapshotSeconds),
    needsVolume: persistence === 'rdb',
    strategy: 'Recreate',
    mode: persistence === 'rdb' ? 'rdb' : 'memory',
  };
}

/** redis-server arguments: TLS only (the plain port off), the emulation's certificates, no client certificates. */
export function tlsOnlyArgs(port: number, tls: TlsFiles): string[] {
  return [
    '--port',
    '0',
    '--tls-port',
    String(port),
    '--tls-cert-file',
    tls.certFile,
    '--tls-key-file',
    tls.keyFile,
    '--tls-ca-cert-file',
    tls.caFile,
    // Managed Valkey authenticates clients by password, not by certificate.
    '--tls-auth-clients',
    'no',
  ];
}

/** A password for the emulated database (the managed service generates one too). */
export function newPassword(): string {
  return randomBytes(18).toString('base64url');
}
