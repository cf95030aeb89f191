# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: kubeconfig
short_description: One inventory host per kubeconfig context, for multi-cluster rollouts
version_added: 1.0.0
description:
  - Turns the contexts of one or more kubeconfig files into inventory hosts (C(connection=local)), with the
    variables the collection's playbooks use - C(secure_cluster_kubeconfig), C(secure_cluster_context) and
    C(secure_cluster_expected_cluster) (the context's API server URL, so every module refuses any other cluster).
  - Groups hosts by provider (C(provider_ibm), C(provider_aws), C(provider_azure), C(provider_digitalocean),
    C(provider_other)), recognised from the API server's host name without contacting the cluster.
  - The inventory file name must end with C(kubeconfig.yml) or C(kubeconfig.yaml).
author:
  - secure_cluster maintainers (@containers-workload)
options:
  plugin:
    description: The name of this plugin.
    required: true
    type: str
    choices: [containers_workload.secure_cluster.kubeconfig]
  kubeconfigs:
    description: Kubeconfig files to read; without it, the files of E(KUBECONFIG), else C(~/.kube/config).
    type: list
    elements: path
    default: []
  include:
    description: Only contexts whose name matches one of these regular expressions.
    type: list
    elements: str
    default: []
  exclude:
    description: Leave out contexts whose name matches one of these regular expressions.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - constructed
"""

EXAMPLES = r"""
# clusters.kubeconfig.yml
plugin: containers_workload.secure_cluster.kubeconfig
kubeconfigs:
  - ~/.kube/fleet.yml
include: ['^prod-']
keyed_groups:
  - key: secure_cluster_context.split('-')[1]
    prefix: region
"""

import os
import re
import sys

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Constructable

try:
    import yaml
except ImportError:  # reported when the plugin is used
    yaml = None

PROVIDER_HOSTS = (
    (re.compile(r"\.containers\.cloud\.ibm\.com|\.containers\.appdomain\.cloud|\.cloud\.ibm\.com"), "ibm"),
    (re.compile(r"\.eks\.amazonaws\.com"), "aws"),
    (re.compile(r"\.azmk8s\.io"), "azure"),
    (re.compile(r"\.k8s\.ondigitalocean\.com"), "digitalocean"),
)


def provider_of(server: str) -> str:
    """The provider from the API server URL (no API call); 'other' when not recognised."""
    return next((name for pattern, name in PROVIDER_HOSTS if pattern.search(server or "")), "other")


class InventoryModule(BaseInventoryPlugin, Constructable):
    NAME = "containers_workload.secure_cluster.kubeconfig"

    def verify_file(self, path):
        return super().verify_file(path) and path.endswith(("kubeconfig.yml", "kubeconfig.yaml"))

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        if yaml is None:
            raise AnsibleParserError("the kubeconfig inventory plugin needs the Python library PyYAML")
        files = self.get_option("kubeconfigs") or [
            p for p in os.environ.get("KUBECONFIG", os.path.expanduser("~/.kube/config")).split(os.pathsep) if p]
        include = [re.compile(p) for p in self.get_option("include")]
        exclude = [re.compile(p) for p in self.get_option("exclude")]
        for kubeconfig in files:
            kubeconfig = os.path.expanduser(kubeconfig)
            try:
                with open(kubeconfig, encoding="utf-8") as handle:
                    config = yaml.safe_load(handle) or {}
            except (OSError, yaml.YAMLError) as exc:
                raise AnsibleParserError(f"kubeconfig '{kubeconfig}' cannot be read: {exc}") from None
            clusters = {c["name"]: c.get("cluster") or {} for c in config.get("clusters") or []}
            for context in config.get("contexts") or []:
                name = context["name"]
                if include and not any(p.search(name) for p in include):
                    continue
                if any(p.search(name) for p in exclude):
                    continue
                server = clusters.get((context.get("context") or {}).get("cluster"), {}).get("server", "")
                self._add_cluster(name, kubeconfig, server)

    def _add_cluster(self, context: str, kubeconfig: str, server: str) -> None:
        host = self.inventory.add_host(re.sub(r"[^A-Za-z0-9_.-]", "_", context))
        provider = provider_of(server)
        variables = {
            "ansible_connection": "local",
            # The controller's own Python (connection local): inventory values are not templated.
            "ansible_python_interpreter": sys.executable,
            "secure_cluster_kubeconfig": kubeconfig,
            "secure_cluster_context": context,
            "secure_cluster_expected_cluster": server,
            "secure_cluster_provider": provider,
        }
        for key, value in variables.items():
            self.inventory.set_variable(host, key, value)
        group = self.inventory.add_group(f"provider_{provider}")
        self.inventory.add_child(group, host)
        strict = self.get_option("strict")
        self._set_composite_vars(self.get_option("compose"), variables, host, strict=strict)
        self._add_host_to_composed_groups(self.get_option("groups"), variables, host, strict=strict)
        self._add_host_to_keyed_groups(self.get_option("keyed_groups"), variables, host, strict=strict)
