/**
 * A name and HTTPS for the chat (chat:domain): a Let's Encrypt certificate that DigitalOcean
 * issues and renews, which chat-app-lb terminates TLS with, and an A record that points the
 * name at chat-app-lb. Both need the name's zone hosted by DigitalOcean DNS in the account:
 * Let's Encrypt validates the name through it.
 *
 * Two components, because the load balancer sits between them:
 *   certificate ──► chat-app-lb (port 443) ──► A record (its IP)
 */
import * as digitalocean from '@pulumi/digitalocean';
import * as pulumi from '@pulumi/pulumi';

/**
 * A short TTL, so resolvers follow a new load balancer IP (after a replacement) within a
 * minute. DigitalOcean's default would be 1800 s (DnsRecordArgs.ttl, @pulumi/digitalocean).
 */
export const RECORD_TTL_SECONDS = 60;

/** The record's name relative to its zone, as DigitalOcean DNS takes it: "@" for the zone apex. */
export function relativeRecordName(domain: string, zone: string): string {
  if (domain === zone) return '@';
  if (!domain.endsWith(`.${zone}`)) throw new Error(`${domain} is not in the zone ${zone}`);
  return domain.slice(0, -(zone.length + 1));
}

/**
 * The certificate's name. DigitalOcean requires certificate names to be unique in the account
 * (digitalocean-cloud-controller-manager docs/controllers/services/annotations.md,
 * do-loadbalancer-certificate-name), so it carries the stack's instance and the domain; with
 * the domain in it, a new chat:domain creates the new certificate before the old one goes.
 */
export function certificateName(instance: string, domain: string): string {
  return `${instance}-${domain.replace(/\./g, '-')}`;
}

/** A DNS record as the getRecords data source reports it. */
export interface ExistingRecord {
  id: number;
  name: string;
  type: string;
  value: string;
}

/** Record types that would share a name with the chat's A record (or, for CNAME, forbid it). */
export const CONFLICTING_TYPES = ['A', 'AAAA', 'CNAME'] as const;

/**
 * The records at the chat's name that are in the way of its A record: every A, AAAA and
 * CNAME there, except A and AAAA records that already point at this stack's own load
 * balancer (its IPv4 and IPv6 addresses in `ownAddresses`): the record this program created
 * on an earlier run, or one that sends clients to the same place.
 */
export function conflictingRecords(records: ExistingRecord[], ownAddresses: string[]): ExistingRecord[] {
  return records.filter(
    (r) =>
      (CONFLICTING_TYPES as readonly string[]).includes(r.type.toUpperCase()) &&
      !(r.type.toUpperCase() !== 'CNAME' && ownAddresses.includes(r.value)),
  );
}

/** What to say when conflictingRecords finds any: each record, why it matters, the two ways out. */
export function recordConflictMessage(domain: string, zone: string, conflicts: ExistingRecord[]): string {
  const lines = conflicts.map((r) => `  - ${r.type} ${r.name} → ${r.value} (id ${r.id})`);
  return (
    `chat:domain ${domain} already has DNS records in the DigitalOcean zone ${zone} that do not point at this ` +
    `stack's load balancer:\n${lines.join('\n')}\n` +
    'The program adds an A record for the name and removes no other: beside an A record clients would reach the ' +
    'old host part of the time, beside an AAAA record over IPv6 always, and a CNAME cannot share a name at all. ' +
    'Nothing was created.\n' +
    `  - To serve the chat at ${domain}: delete them (\`doctl compute domain records delete ${zone} ` +
    `${conflicts.map((r) => r.id).join(' ')}\`), then run again.\n` +
    '  - Or serve it at another name: `pulumi config set chat:domain <name>`.'
  );
}

const NO_LOAD_BALANCER = /no load balancer found with name/;

/**
 * The addresses of this stack's load balancer, found by the name chat-app-lb gives it
 * (do-loadbalancer-name, chat-app.ts), or none before it exists. The getLoadBalancer data
 * source pages through every balancer of the account (terraform-provider-digitalocean
 * digitalocean/loadbalancer/datasource_loadbalancer.go, PerPage 200 until the last page),
 * so "not found" is trustworthy; any other error stops the program.
 */
export async function ownLoadBalancerAddresses(lbName: string): Promise<string[]> {
  try {
    const lb = await digitalocean.getLoadBalancer({ name: lbName });
    return [lb.ip, lb.ipv6].filter((ip): ip is string => !!ip);
  } catch (err) {
    if (NO_LOAD_BALANCER.test(String((err as Error)?.message ?? err))) return [];
    throw err;
  }
}

/**
 * Refuses a chat:domain whose name already has records in the way (conflictingRecords), before
 * anything is created. The A record resource only creates (terraform-provider-digitalocean
 * digitalocean/domain/resource_record.go resourceDigitalOceanRecordCreate posts one record and
 * looks at no other), so without this check an apex's existing A record, say, would stay and
 * share the name. The getRecords data source lists every page of the zone's records and
 * filters them here by name (digitalocean/domain/datasource_records.go, records.go
 * getDigitalOceanRecords: PerPage 200, paging to the last).
 */
export async function checkDnsName(domain: string, zone: string, lbName: string): Promise<void> {
  const name = relativeRecordName(domain, zone);
  const [found, own] = await Promise.all([
    digitalocean.getRecords({ domain: zone, filters: [{ key: 'name', values: [name] }] }),
    ownLoadBalancerAddresses(lbName),
  ]);
  const records = found.records.filter((r) => r.name === name);
  const conflicts = conflictingRecords(records, own);
  if (conflicts.length > 0) throw new pulumi.RunError(recordConflictMessage(domain, zone, conflicts));
}

export interface HttpsCertificateArgs {
  /** `chat-<stack>`. */
  instance: string;
  /** The FQDN the certificate is for. */
  domain: string;
}

/** A Let's Encrypt certificate for the chat's name. */
export class HttpsCertificate extends pulumi.ComponentResource {
  /**
   * What chat-app-lb's do-loadbalancer-certificate-name annotation names. Known only once the
   * certificate exists: terraform-provider-digitalocean (digitalocean/certificate/
   * resource_certificate.go, resourceDigitalOceanCertificateCreate) waits until DigitalOcean
   * reports it "verified" (up to 10 minutes), so the Service never names a certificate that
   * has not been issued.
   */
  readonly certificateName: pulumi.Output<string>;

  constructor(name: string, args: HttpsCertificateArgs, opts?: pulumi.ComponentResourceOptions) {
    super('doks-chat:infra:HttpsCertificate', name, {}, opts);
    const certificate = new digitalocean.Certificate(
      'certificate',
      {
        name: certificateName(args.instance, args.domain),
        // The provider's default type is "custom" (an uploaded certificate); lets_encrypt is
        // issued and renewed by DigitalOcean for `domains` (resource_certificate.go).
        type: 'lets_encrypt',
        domains: [args.domain],
      },
      { parent: this },
    );
    this.certificateName = certificate.name;
    this.registerOutputs({ certificateName: this.certificateName });
  }
}

export interface DnsNameArgs {
  /** The FQDN to point at the load balancer. */
  domain: string;
  /** The DigitalOcean DNS zone that holds it. */
  zone: string;
  /** The load balancer's IPv4 address (null while the balancer reports none). */
  ip: pulumi.Input<string | null>;
}

/** The A record `domain` → the load balancer, in `zone`. */
export class DnsName extends pulumi.ComponentResource {
  /** https://<domain>, once the record exists. */
  readonly url: pulumi.Output<string>;

  constructor(name: string, args: DnsNameArgs, opts?: pulumi.ComponentResourceOptions) {
    super('doks-chat:infra:DnsName', name, {}, opts);
    const ip = pulumi.output(args.ip).apply((v) => {
      if (!v) {
        throw new pulumi.RunError(
          `chat-app-lb reports no IPv4 address, so ${args.domain} cannot point at it; chat:domain needs a DigitalOcean load balancer (a DOKS cluster)`,
        );
      }
      return v;
    });
    const record = new digitalocean.DnsRecord(
      'record',
      {
        domain: args.zone,
        // Relative to the zone; "@" is the apex (DnsRecordArgs.name; terraform-provider-digitalocean
        // digitalocean/domain/resource_record.go).
        name: relativeRecordName(args.domain, args.zone),
        type: 'A',
        value: ip,
        ttl: RECORD_TTL_SECONDS,
      },
      { parent: this },
    );
    this.url = record.id.apply(() => `https://${args.domain}`);
    this.registerOutputs({ url: this.url });
  }
}
