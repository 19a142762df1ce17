import type Docker from 'dockerode';
import { SERVICE_ROLE } from '../scheduler/docker-services.js';

export interface CleanupReport {
  containers: string[];
  images: string[];
  volumes: string[];
}

/** The Docker objects builds leave behind for an app: its images, its build cache volume, build containers. */
export class AppImages {
  constructor(private readonly docker: Docker, private readonly instance: string) {}

  repository(app: string): string {
    return `${this.instance}/app-${app}`;
  }

  cacheVolume(app: string): string {
    return `${this.instance}-cache-${app}`;
  }

  async exists(image: string): Promise<boolean> {
    return this.docker.getImage(image).inspect().then(() => true, () => false);
  }

  async removeBuildContainers(buildId: string): Promise<void> {
    const label = [`pier.instance=${this.instance}`, `pier.build=${buildId}`, 'pier.role=build'];
    for (const c of await this.docker.listContainers({ all: true, filters: { label } })) {
      await this.docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
    }
  }

  /**
   * Tags every image of `from` under the repository of `to` (apps:rename); returns old → new
   * names. The build cache does not move (Docker cannot rename volumes): the next build is cold.
   */
  async retag(from: string, to: string): Promise<Map<string, string>> {
    const moved = new Map<string, string>();
    for (const img of await this.docker.listImages({ filters: { reference: [`${this.repository(from)}:*`] } })) {
      for (const tag of img.RepoTags ?? []) {
        const version = tag.slice(tag.lastIndexOf(':') + 1);
        await this.docker.getImage(img.Id).tag({ repo: this.repository(to), tag: version });
        moved.set(tag, `${this.repository(to)}:${version}`);
      }
    }
    return moved;
  }

  /** Drops the old names after a rename (the images stay under their new ones) and the old build cache. */
  async untag(from: string): Promise<void> {
    for (const img of await this.docker.listImages({ filters: { reference: [`${this.repository(from)}:*`] } })) {
      for (const tag of img.RepoTags ?? []) {
        if (tag.startsWith(`${this.repository(from)}:`)) await this.docker.getImage(tag).remove({ noprune: true }).catch(() => undefined);
      }
    }
    await this.docker.getVolume(this.cacheVolume(from)).remove().catch(() => undefined);
  }

  /** Every image and the build cache of an app (apps:destroy). */
  async removeAll(app: string): Promise<void> {
    await this.removeImagesExcept(app, async () => new Set());
    await this.docker.getVolume(this.cacheVolume(app)).remove().catch(() => undefined);
  }

  /**
   * Removes the app's images that `keep` does not name, then build layers nothing uses any more.
   * Returns the tags removed.
   */
  async prune(app: string, keep: () => Promise<string[]>): Promise<string[]> {
    const removed = await this.removeImagesExcept(app, async () => new Set(await keep()));
    await this.pruneDangling();
    return removed;
  }

  /** Exited containers, dangling images and volumes of this Pier that no app (in `apps`) owns. */
  async cleanup(apps: string[]): Promise<CleanupReport> {
    const report: CleanupReport = { containers: [], images: [], volumes: [] };
    const label = [`pier.instance=${this.instance}`];
    const known = new Set(apps);
    for (const c of await this.docker.listContainers({ all: true, filters: { label, status: ['exited', 'created', 'dead'] } })) {
      // An add-on service stopped by a dockerd restart is still a database with its container config; it is not litter.
      if (c.Labels['pier.role'] === SERVICE_ROLE) continue;
      if (await this.docker.getContainer(c.Id).remove({ force: true }).then(() => true, () => false)) report.containers.push(c.Names[0]?.replace(/^\//, '') ?? c.Id);
    }
    for (const img of await this.docker.listImages({ filters: { label } })) {
      const app = img.Labels?.['pier.app'];
      if (app && !known.has(app) && (await this.removeImage(img.Id))) report.images.push(...(img.RepoTags ?? [img.Id]));
    }
    report.images.push(...(await this.pruneDangling()));
    const prefix = `${this.instance}-cache-`;
    for (const v of (await this.docker.listVolumes()).Volumes ?? []) {
      // Storage (storage:mount) is the apps' data, kept even when its app is gone; another instance's may match the prefix.
      if (v.Labels?.['pier.role'] === 'storage' || v.Labels?.['pier.role'] === SERVICE_ROLE) continue;
      if (v.Name.startsWith(prefix) && !known.has(v.Name.slice(prefix.length))) {
        if (await this.docker.getVolume(v.Name).remove().then(() => true, () => false)) report.volumes.push(v.Name);
      }
    }
    return report;
  }

  /**
   * Images are listed before `keep` is asked: a build that commits its image meanwhile is either
   * not listed yet, or still active when `keep` is read, so its image is never taken.
   */
  private async removeImagesExcept(app: string, keepNow: () => Promise<Set<string>>): Promise<string[]> {
    const removed: string[] = [];
    const images = await this.docker.listImages({ filters: { reference: [`${this.repository(app)}:*`] } });
    const keep = await keepNow();
    for (const img of images) {
      const tags = img.RepoTags ?? [];
      if (tags.some((t) => keep.has(t))) continue;
      if (await this.removeImage(img.Id)) removed.push(...tags);
    }
    return removed;
  }

  private async removeImage(id: string): Promise<boolean> {
    return this.docker.getImage(id).remove({ force: true }).then(() => true, () => false);
  }

  /** Untagged layers of this Pier's builds (a Dockerfile build's intermediate images once their tag is gone). */
  private async pruneDangling(): Promise<string[]> {
    const filters = { dangling: ['true'], label: [`pier.instance=${this.instance}`] };
    // Docker runs one prune at a time engine-wide (409 otherwise); another's prune will have done the work, or the next one will.
    const result = await this.docker.pruneImages({ filters }).catch((err: { statusCode?: number }) => {
      if (err.statusCode === 409) return { ImagesDeleted: [] };
      throw err;
    });
    return (result.ImagesDeleted ?? []).flatMap((d) => (d.Deleted ? [d.Deleted] : []));
  }
}
