// What a figure came from: the CPU, its cores, the load on it when the run started and ended.
// Figures only travel with their machine; a busy machine (other work on the cores the
// benchmark uses) moves them by tens of percent, so the run says so up front.
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';

export interface MachineInfo {
  cpu: string;
  cores: number;
  /** 1-, 5- and 15-minute load averages. */
  loadAverage: [number, number, number];
  /** The SIMD extensions the C reference may use (-march=native). */
  simd: string[];
  node: string;
  platform: string;
}

/** A 1-minute load average of at least this many runnable tasks per core makes the machine busy. */
export const BUSY_LOAD_PER_CORE = 0.25;

function cpuFlags(): string[] {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags'));
    const flags = new Set(line?.split(':')[1]?.trim().split(/\s+/) ?? []);
    return ['sse4_2', 'avx', 'avx2', 'fma', 'avx512f'].filter((f) => flags.has(f));
  } catch {
    return []; // not Linux: the flags are unknown, which the figures do not depend on
  }
}

export function describeMachine(): MachineInfo {
  const [l1, l5, l15] = loadavg();
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: availableParallelism(),
    loadAverage: [round2(l1), round2(l5), round2(l15)],
    simd: cpuFlags(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}

/** A sentence saying why the figures may be off, or null when the machine looks quiet. */
export function busyWarning(m: MachineInfo): string | null {
  const perCore = m.loadAverage[0] / m.cores;
  if (perCore < BUSY_LOAD_PER_CORE) return null;
  return `the machine is busy (load average ${m.loadAverage[0]} over ${m.cores} cores): other work shares the cores, `
    + 'so absolute figures will be slow and noisy; ratios within the run hold up better';
}

const round2 = (x: number) => Math.round(x * 100) / 100;
