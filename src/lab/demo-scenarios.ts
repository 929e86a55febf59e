// Every demo scenario group, in the order the demo runs them. A mode adds its scenarios by
// adding its groups here (one file per mode, shaped like demo-redirect.ts): a group sets
// the router up in the lab (setup), lists what a client asks and what should happen
// (scenarios), and stops what it started (teardown).
import type { ScenarioGroup } from "./demo-scenario.ts";
import { haScenarioGroups } from "./demo-ha.ts";
import { proxyScenarioGroups } from "./demo-proxies.ts";
import { redirectScenarioGroups } from "./demo-redirect.ts";

export const scenarioGroups: readonly ScenarioGroup[] = [
  ...redirectScenarioGroups,
  ...proxyScenarioGroups,
  // last: it adds a second router pod to the lab and leaves the first one as it found it
  ...haScenarioGroups,
];
