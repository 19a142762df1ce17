import { randomBytes } from 'node:crypto';
import type Docker from 'dockerode';
import { StorageError } from '../errors.js';
import type { Release } from '../state/release-store.js';
import { runtimeOf } from './container-spec.js';
import { runToCompletion } from './docker-one-off.js';
import { hardenedHostConfig } from './docker-security.js';
import type { StorageVolume, Volumes } from './scheduler.js';

const ROLE = 'storage';
const PREPARE_TIMEOUT_MS = 60_000;

/** The owner argument of chown(1) for a Docker USER: a bare name takes its login group, as Docker does. */
export function chownOwner(user: string): string {
  return user.includes(':') || /^\d+$/.test(user) ? user : `${user}:`;
}

type VolumeInfo = Docker.VolumeInspectInfo & { CreatedAt?: string };

/**
 * Storage volumes, named `<instance>-storage-<NAME>` and labelled with their app, so apps:destroy
 * and cleanup can tell them from build caches and never lose them by accident.
 */
export class DockerVolumes implements Volumes {
  /** Volumes already handed to a user, by volume, creation time and user: a re-created volume is prepared again. */
  private readonly prepared = new Map<string, Promise<void>>();

  constructor(private readonly docker: Docker, private readonly instance: string) {}

  async create(app: string, name: string): Promise<StorageVolume> {
    const volume = this.volumeName(name);
    const existing = await this.inspect(volume);
    if (!existing) {
      await this.docker.createVolume({ Name: volume, Labels: { 'pier.instance': this.instance, 'pier.app': app, 'pier.role': ROLE } });
      return { name, volume };
    }
    const owner = existing.Labels?.['pier.role'] === ROLE ? existing.Labels['pier.app'] : undefined;
    if (owner === app) return { name, volume };
    throw new StorageError(
      owner
        ? `Storage ${name} (volume ${volume}) holds the data of app ${owner}; apps cannot share it. Pick another name, or remove that data: docker volume rm ${volume}`
        : `A Docker volume ${volume} exists that Pier did not create. Pick another storage name, or remove it: docker volume rm ${volume}`,
    );
  }

  async list(app: string): Promise<StorageVolume[]> {
    const label = [`pier.instance=${this.instance}`, `pier.app=${app}`, `pier.role=${ROLE}`];
    const { Volumes: found } = await this.docker.listVolumes({ filters: { label } });
    return (found ?? []).map((v) => ({ name: this.nameOf(v.Name), volume: v.Name })).sort((a, b) => a.name.localeCompare(b.name));
  }

  async remove(volume: string): Promise<void> {
    await this.docker.getVolume(volume).remove();
  }

  /**
   * Hands each mounted volume to the user the release runs as, before a container of it mounts the
   * volume. A new volume is owned by root, and app containers never run as root. The daemon could
   * chown the volume's folder on the host, but only when it runs on the Docker host as root, and it
   * could not resolve a USER given as a name. So a one-shot container of the release's own image
   * does it: root with CAP_CHOWN alone, no network, read-only, never the app itself; chown reads
   * names from the image's /etc/passwd as Docker does when it starts the app. Only the volume's
   * top folder changes owner: what the app wrote stays its own.
   */
  async prepare(app: string, release: Release, mounts: Array<{ volume: string }>): Promise<void> {
    await Promise.all(mounts.map((m) => this.prepareOne(app, release, m.volume)));
  }

  private async prepareOne(app: string, release: Release, volume: string): Promise<void> {
    // Removed by hand since it was mounted: made again, labelled, rather than left to Docker to make unlabelled.
    if (!(await this.inspect(volume))) await this.create(app, this.nameOf(volume));
    const info = (await this.inspect(volume))!;
    const user = runtimeOf(release).user;
    const key = `${volume}|${info.CreatedAt ?? ''}|${user}`;
    let job = this.prepared.get(key);
    if (!job) {
      job = this.chown(app, release.image, volume, user);
      this.prepared.set(key, job);
      job.catch(() => this.prepared.delete(key));
    }
    await job;
  }

  private async chown(app: string, image: string, volume: string, user: string): Promise<void> {
    const output: string[] = [];
    const { exitCode } = await runToCompletion(
      this.docker,
      {
        name: `${this.instance}-${app}-storage-${randomBytes(4).toString('hex')}`,
        Image: image,
        Entrypoint: ['chown'],
        Cmd: [chownOwner(user), '/volume'],
        User: '0:0',
        AttachStdout: true,
        AttachStderr: true,
        Labels: { 'pier.instance': this.instance, 'pier.app': app, 'pier.role': ROLE },
        HostConfig: hardenedHostConfig({ CapAdd: ['CHOWN'], NetworkMode: 'none', ReadonlyRootfs: true, Binds: [`${volume}:/volume:nocopy`] }),
      },
      (line) => output.push(line),
      PREPARE_TIMEOUT_MS,
    ).catch((err: Error) => {
      output.push(err.message);
      return { exitCode: -1 };
    });
    if (exitCode === 0) return;
    throw new StorageError(
      `Could not give storage volume ${volume} to ${user}, the user the app runs as (${output.join(' ').trim() || `chown exited with ${exitCode}`}). ` +
        "The app's image needs chown, and a USER name must be in its /etc/passwd; a numeric USER (e.g. USER 1000:1000) needs no lookup.",
    );
  }

  nameOf(volume: string): string {
    return volume.slice(this.volumeName('').length);
  }

  private volumeName(name: string): string {
    return `${this.instance}-storage-${name}`;
  }

  private async inspect(volume: string): Promise<VolumeInfo | undefined> {
    return this.docker
      .getVolume(volume)
      .inspect()
      .then(
        (v) => v as VolumeInfo,
        (err: { statusCode?: number }) => {
          if (err.statusCode === 404) return undefined;
          throw err;
        },
      );
  }
}
