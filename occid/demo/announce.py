# -*- test-case-name: tests.test_demo -*-
"""
What the demo prints once occid listens: where its files are, and curl and
rOCCI-cli commands that work as printed, in order, in one shell.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable

from twisted.application.service import Service

from occid.demo.credentials import VO
from occid.demo.emulator import EmulatorService
from occid.demo.preparation import REGION, SECOND_REGION, Demo, Image
from occid.ec2 import vocabulary
from occid.occi import infrastructure as infra
from occid.occi.model import Category

#: Marks the lines that start the shell commands in L{instructions}.
CURL_HEADING = "== curl: run these in order, in one shell =="
ROCCI_HEADING = "== rOCCI-cli (occi) =="
END_HEADING = "== end of the occid demo commands =="


def _plain_stdout(text: str) -> None:
    """Write to the process's real standard output, around twistd's log redirection."""
    stdout = sys.__stdout__
    if stdout is None:  # started without a standard output: nobody to tell
        return
    stdout.write(text)
    stdout.flush()


class AnnounceService(Service):
    """Prints L{instructions} when started (after the listener, in the daemon's tree)."""

    def __init__(self, demo: Demo, emulator: EmulatorService,
                 write: Callable[[str], None] = _plain_stdout):
        self.demo = demo
        self.emulator = emulator
        self._write = write

    def startService(self) -> None:
        super().startService()
        self._write(instructions(self.demo, self.emulator.vpc_id or ""))


def _category(category: Category, kind: str) -> str:
    """The C{Category} header of C{category}, of class C{kind}."""
    return f'Category: {category.term}; scheme="{category.scheme}"; class="{kind}"'


def create_body(demo: Demo, image: Image, title: str, categories: tuple[Category, ...] = (),
                link: str | None = None) -> str:
    """
    The text/plain body creating a VM titled C{title} from C{image} with the
    demo's SSH key, carrying the extra mixins C{categories} and linked to
    network C{link} if given.
    """
    with open(demo.files.ssh_public_key, encoding="ascii") as f:
        ssh_key = f.read().strip()
    os_tpl = infra.os_tpl_mixin(image.id, image.name, "localhost")
    resource_tpl = vocabulary.resource_tpl_term("t3.micro")
    lines = [
        _category(infra.COMPUTE, "kind"),
        *(_category(category, "mixin") for category in categories),
        _category(os_tpl, "mixin"),
        f'Category: {resource_tpl}; scheme="{vocabulary.RESOURCE_TPL_SCHEME}"; class="mixin"',
        _category(infra.SSH_KEY, "mixin"),
        f'X-OCCI-Attribute: occi.core.title="{title}"',
        f'X-OCCI-Attribute: occi.credentials.ssh.publickey="{ssh_key}"',
    ]
    if link is not None:
        lines.append(f'Link: <{link}>; rel="{infra.NETWORK.identifier}"; '
                     f'category="{infra.NETWORKINTERFACE.identifier}"')
    return "\n".join(lines)


def instructions(demo: Demo, vpc_id: str) -> str:
    """What the demo prints once occid listens: where things are and commands to try."""
    files = demo.files
    q = shlex.quote
    curl = f"curl -sS --cacert {q(files.ca)} --cert {q(files.proxy)} --key {q(files.proxy)}"
    url = demo.url
    stop = infra.COMPUTE_STOP
    rocci = (f"occi --endpoint {url}/ --auth x509 --voms --user-cred {q(files.proxy)} "
             f"--ca-path {q(files.certificates)}")
    home, second = demo.images_in(REGION)[0], demo.images_in(SECOND_REGION)[0]
    token_curl = f"curl -sS --cacert {q(files.ca)}"
    rocci_token = (f"occi --endpoint {url}/ --auth token --token \"$(cat {q(files.token)})\" "
                   f"--ca-path {q(files.certificates)}")
    in_second = infra.region_mixin(SECOND_REGION, "localhost")
    return f"""
occid demo: {url} (EC2 emulator at {demo.emulator_url}, VPC {vpc_id})
Files in {files.directory}: CA ca.pem, VOMS proxy proxy.pem (VO {VO}),
access token token (from the demo's OIDC issuer at {demo.issuer.url}, 12 hours,
entitlements from its userinfo like EGI Check-in's), SSH key id_ed25519,
configuration occid.toml.  The emulator forgets its
VMs when occid stops; the credentials are kept (delete the directory to
start clean).  Stop occid with Ctrl-C.

{CURL_HEADING}

# 1. The query interface: kinds, os_tpl (AMIs), resource_tpl (instance types), actions
{curl} -i {url}/-/

# 2. Create a VM with your SSH key; the response headers show its Location, kept in $VM
VM=$({curl} -D /dev/stderr -H 'Accept: text/uri-list' -H 'Content-Type: text/plain' \\
  --data-binary {q(create_body(demo, home, "demo-vm", link=f"/network/{vpc_id}"))} \\
  {url}/compute/) && echo "VM=$VM"

# 3. List your VMs
{curl} -i -H 'Accept: text/uri-list' {url}/compute/

# 4. Describe the VM
{curl} -i "$VM"

# 5. Stop it
{curl} -i -X POST -H 'Content-Type: text/plain' \\
  --data-binary 'Category: {stop.term}; scheme="{stop.scheme}"; class="action"' "$VM?action=stop"

# 6. Delete it
{curl} -i -X DELETE "$VM"

# 7. Create a VM in the second region, {SECOND_REGION}, by its region mixin, from an
#    image offered there; its id carries the region: /compute/i-….{SECOND_REGION}
VM2=$({curl} -D /dev/stderr -H 'Accept: text/uri-list' -H 'Content-Type: text/plain' \\
  --data-binary {q(create_body(demo, second, f"demo-vm-{SECOND_REGION}", (in_second,)))} \\
  {url}/compute/) && echo "VM2=$VM2"

# 8. Delete it
{curl} -i -X DELETE "$VM2"

# 9. No certificate, a token instead (as EGI Check-in users do): create a VM with
#    Authorization: Bearer
TVM=$({token_curl} -D /dev/stderr -H "Authorization: Bearer $(cat {q(files.token)})" \
  -H 'Accept: text/uri-list' -H 'Content-Type: text/plain' \
  --data-binary {q(create_body(demo, home, "demo-token-vm", link=f"/network/{vpc_id}"))} \
  {url}/compute/) && echo "TVM=$TVM"

# 10. Delete it with X-Auth-Token, the header rOCCI-cli's --auth token sends
{token_curl} -i -X DELETE -H "X-Auth-Token: $(cat {q(files.token)})" "$TVM"

{ROCCI_HEADING}

{rocci} --action list --resource compute
{rocci} --action create --resource compute --mixin os_tpl#{home.id} --mixin resource_tpl#t3_micro \\
  --attribute occi.core.title=demo-vm-2 --context {q('public_key=file://' + files.ssh_public_key)} \\
  --link /network/{vpc_id}
{rocci} --action describe --resource /compute/
{rocci_token} --action list --resource compute

{END_HEADING}
"""
