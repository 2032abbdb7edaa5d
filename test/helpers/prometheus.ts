/**
 * Parses Prometheus text exposition with the official Python client's parser (Debian
 * python3-prometheus-client): an independent parser, so a format slip of ours fails the test.
 */
import { execFileSync } from 'node:child_process';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const PARSER = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        out.append({"name": s.name, "labels": s.labels, "value": s.value, "type": family.type})
print(json.dumps(out))
`;

/** Throws (with the parser's message) when the text is not valid exposition format. */
export function parsePrometheus(text: string): Sample[] {
  // /usr/bin/python3: Debian's interpreter, where the Debian package installs the module.
  return JSON.parse(execFileSync('/usr/bin/python3', ['-c', PARSER], { input: text, timeout: 20_000 }).toString()) as Sample[];
}

export function sampleValue(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value))
    .reduce((sum, sample) => sum + sample.value, 0);
}
