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
