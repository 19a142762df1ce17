import { expect } from 'chai';
import {
  cpusSchema,
  formatBytes,
  formatRestartPolicy,
  memorySchema,
  mountPathSchema,
  processSettingSchema,
  restartPolicySchema,
  stopTimeoutSchema,
  storageMountSchema,
  storageTargetSchema,
  volumeNameSchema,
} from '../../src/resource-settings.js';
import { containerSpec, liveUpdate } from '../../src/scheduler/container-spec.js';
import { chownOwner } from '../../src/scheduler/docker-volumes.js';
import { DEFAULT_PROCESS_SETTINGS, type ProcessSettings } from '../../src/state/process-settings-store.js';

type Schema = { safeParse(v: unknown): { success: boolean; data?: unknown; error?: { issues: Array<{ message: string }> } } };
const value = (schema: Schema, input: unknown) => {
  const r = schema.safeParse(input);
  if (!r.success) throw new Error(`refused: ${r.error!.issues[0]!.message}`);
  return r.data;
};
const refusal = (schema: Schema, input: unknown) => {
  const r = schema.safeParse(input);
  return r.success ? undefined : r.error!.issues[0]!.message;
};

const MIB = 1024 ** 2;
const GIB = 1024 ** 3;

describe('resource and storage settings', () => {
  describe('memory sizes', () => {
    it('reads m and g in either case, fractions and plain bytes, in binary units as Docker does', () => {
      expect(value(memorySchema, '512m')).to.equal(512 * MIB);
      expect(value(memorySchema, '256M')).to.equal(256 * MIB);
      expect(value(memorySchema, '1g')).to.equal(GIB);
      expect(value(memorySchema, '1.5g')).to.equal(1.5 * GIB);
      expect(value(memorySchema, '2GB')).to.equal(2 * GIB);
      expect(value(memorySchema, '65536k')).to.equal(64 * MIB);
      expect(value(memorySchema, '536870912')).to.equal(512 * MIB);
    });

    it('refuses units it does not know, negative and empty sizes, naming the rule and an example', () => {
      for (const bad of ['512x', '-1g', '', 'm', '1 g g', '1t']) {
        expect(refusal(memorySchema, bad), bad).to.include('a size in bytes or with a unit k, m or g (e.g. 512m, 1.5g)');
      }
    });

    it('refuses less than the 6m Docker accepts', () => {
      expect(refusal(memorySchema, '4m')).to.include('at least 6m');
      expect(value(memorySchema, '6m')).to.equal(6 * MIB);
    });

    it('prints sizes in the largest unit, with at most two decimals', () => {
      expect(formatBytes(GIB)).to.equal('1g');
      expect(formatBytes(256 * MIB)).to.equal('256m');
      expect(formatBytes(1.5 * GIB)).to.equal('1.5g');
      expect(formatBytes(1536)).to.equal('1.5k');
      expect(formatBytes(100)).to.equal('100b');
    });
  });

  describe('CPUs', () => {
    it('reads whole and fractional CPUs', () => {
      expect(value(cpusSchema, '0.5')).to.equal(0.5);
      expect(value(cpusSchema, '1')).to.equal(1);
      expect(value(cpusSchema, '2')).to.equal(2);
      expect(value(cpusSchema, '.25')).to.equal(0.25);
    });

    it('refuses zero, negative and non-numbers with the rule and an example', () => {
      for (const bad of ['0', '-1', 'two', '', '1,5', '0.001']) {
        expect(refusal(cpusSchema, bad), bad).to.include('is not a number of CPUs of at least 0.01 (e.g. 0.5, 1, 2)');
      }
    });
  });

  describe('restart policies', () => {
    it('reads no, always, on-failure (forever) and on-failure:N', () => {
      expect(value(restartPolicySchema, 'no')).to.deep.equal({ name: 'no' });
      expect(value(restartPolicySchema, 'always')).to.deep.equal({ name: 'always' });
      expect(value(restartPolicySchema, 'on-failure')).to.deep.equal({ name: 'on-failure', maxRetries: 0 });
      expect(value(restartPolicySchema, 'on-failure:5')).to.deep.equal({ name: 'on-failure', maxRetries: 5 });
    });

    it('refuses other policies and retry counts out of 1..1000, listing the choices', () => {
      for (const bad of ['sometimes', 'on-failure:0', 'on-failure:1001', 'on-failure:', 'Always', 'unless-stopped']) {
        expect(refusal(restartPolicySchema, bad), bad).to.include('no, always, on-failure (retry forever) or on-failure:N with N from 1 to 1000 (e.g. on-failure:5)');
      }
    });

    it('prints policies as they are typed', () => {
      expect(formatRestartPolicy({ name: 'on-failure', maxRetries: 10 })).to.equal('on-failure:10');
      expect(formatRestartPolicy({ name: 'on-failure', maxRetries: 0 })).to.equal('on-failure');
      expect(formatRestartPolicy({ name: 'always' })).to.equal('always');
    });
  });

  describe('stop timeouts', () => {
    it('reads seconds from 0 to 3600, with or without "s"', () => {
      expect(value(stopTimeoutSchema, '0')).to.equal(0);
      expect(value(stopTimeoutSchema, '45')).to.equal(45);
      expect(value(stopTimeoutSchema, '45s')).to.equal(45);
      expect(value(stopTimeoutSchema, '3600')).to.equal(3600);
    });

    it('refuses more than an hour, fractions and negative numbers', () => {
      for (const bad of ['3601', '1.5', '-1', 'soon', '']) {
        expect(refusal(stopTimeoutSchema, bad), bad).to.include('is not a number of seconds from 0 to 3600 (e.g. 45)');
      }
    });

    it('ps:set takes no value as "back to the default", and refuses a bad one for its key', () => {
      expect(value(processSettingSchema, { key: 'stop-timeout' })).to.deep.equal({ key: 'stop-timeout' });
      expect(value(processSettingSchema, { key: 'restart-policy', value: 'always' })).to.deep.equal({ key: 'restart-policy', value: { name: 'always' } });
      expect(refusal(processSettingSchema, { key: 'stop-timeout', value: 'always' })).to.include('stop timeout "always"');
    });
  });

  describe('storage mounts', () => {
    it('reads NAME:/path, dropping a trailing slash', () => {
      expect(value(storageMountSchema, 'uploads:/app/uploads')).to.deep.equal({ name: 'uploads', path: '/app/uploads' });
      expect(value(storageMountSchema, 'db-1:/var/lib/data/')).to.deep.equal({ name: 'db-1', path: '/var/lib/data' });
    });

    it('storage:unmount also takes the path alone', () => {
      expect(value(storageTargetSchema, '/data')).to.deep.equal({ path: '/data' });
      expect(value(storageTargetSchema, 'data:/data')).to.deep.equal({ name: 'data', path: '/data' });
      expect(refusal(storageTargetSchema, 'data')).to.include('must be absolute');
    });

    it('refuses a value without a name or a colon, with an example', () => {
      expect(refusal(storageMountSchema, '/data')).to.include('is not NAME:/path (e.g. uploads:/app/uploads)');
      expect(refusal(storageMountSchema, ':/data')).to.include('is not NAME:/path');
    });

    it('refuses names that are not lowercase DNS-ish labels', () => {
      for (const bad of ['Data', 'my_data', '-data', 'data-', 'a'.repeat(64), 'da.ta']) {
        expect(refusal(volumeNameSchema, bad), bad).to.include('storage names are lowercase letters, digits and inner dashes');
      }
      expect(refusal(storageMountSchema, 'Data:/data')).to.include('invalid storage name "Data"');
    });

    it('refuses relative paths, "..", "." and "//"', () => {
      expect(refusal(mountPathSchema, 'data')).to.include('must be absolute');
      for (const bad of ['/srv/../etc', '/data/./x', '//data', '/data//x', '/..']) {
        expect(refusal(mountPathSchema, bad), bad).to.include('must be a plain path');
      }
    });

    it('refuses characters of Docker\'s mount syntax and spaces', () => {
      for (const bad of ['/data:ro', '/da ta', '/data,x']) expect(refusal(mountPathSchema, bad), bad).to.include('may hold only');
    });

    it('refuses the root, /app itself and the system folders, but takes folders inside /app and elsewhere', () => {
      expect(refusal(mountPathSchema, '/')).to.include('is the root folder');
      expect(refusal(mountPathSchema, '/app')).to.include('would hide the app itself');
      expect(refusal(mountPathSchema, '/app/')).to.include('would hide the app itself');
      for (const system of ['/proc', '/sys/fs', '/dev', '/etc/app', '/usr/local/data', '/bin']) {
        expect(refusal(mountPathSchema, system), system).to.include('which the system needs');
      }
      for (const fine of ['/app/uploads', '/data', '/var/lib/app', '/process', '/etcetera', '/srv/app/data']) {
        expect(refusal(mountPathSchema, fine), fine).to.equal(undefined);
      }
    });
  });

  describe('the Docker settings of an instance', () => {
    const settings = (change: Partial<ProcessSettings> = {}): ProcessSettings => ({ ...DEFAULT_PROCESS_SETTINGS, ...change });
    const release = { version: 1, image: 'img', config: {}, processTypes: { web: '' }, description: '', createdAt: '', createdBy: '' };
    const spec = (s: ProcessSettings) =>
      containerSpec({ instance: 'pt', network: 'pt', app: 'a', release, process: 'web', index: 1, command: '', settings: s, globalConfig: {}, mounts: [{ volume: 'pt-storage-data', path: '/data' }], name: 'n' }).HostConfig!;

    it('gives every instance 1 GiB without swap, no CPU cap and 1024 processes by default', () => {
      const host = spec(settings());
      expect([host.Memory, host.MemorySwap, host.NanoCpus, host.PidsLimit]).to.deep.equal([GIB, GIB, 0, 1024]);
    });

    it("a type's own limits win over every type's, which win over the defaults", () => {
      const host = spec(settings({ resources: { '*': { memory: 256 * MIB, cpus: 1 }, web: { cpus: 0.5 } } }));
      expect([host.Memory, host.MemorySwap, host.NanoCpus]).to.deep.equal([256 * MIB, 256 * MIB, 5e8]);
    });

    it('mounts storage without copying the image\'s files into it', () => {
      expect(spec(settings()).Binds).to.deep.equal(['pt-storage-data:/data:nocopy']);
    });

    it('a live update sets memory and swap together, and the restart policy', () => {
      const update = liveUpdate(settings({ resources: { web: { memory: 512 * MIB } }, restartPolicy: { name: 'always' } }), 'web', 0, 2);
      expect(update).to.deep.equal({ Memory: 512 * MIB, MemorySwap: 512 * MIB, NanoCpus: 0, RestartPolicy: { Name: 'always' } });
    });

    it('a live update lifts a CPU cap by capping at every core, since Docker reads 0 as "unchanged"', () => {
      expect(liveUpdate(settings(), 'web', 5e8, 2).NanoCpus).to.equal(2e9);
      expect(liveUpdate(settings(), 'web', 0, 2).NanoCpus).to.equal(0);
      expect(liveUpdate(settings({ resources: { web: { cpus: 1.5 } } }), 'web', 5e8, 2).NanoCpus).to.equal(1.5e9);
    });
  });

  it('hands a volume to a bare user name with its login group, and to ids as they are', () => {
    expect(chownOwner('node')).to.equal('node:');
    expect(chownOwner('node:staff')).to.equal('node:staff');
    expect(chownOwner('1000:1000')).to.equal('1000:1000');
    expect(chownOwner('1001')).to.equal('1001');
  });
});
