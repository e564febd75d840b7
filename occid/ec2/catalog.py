# -*- test-case-name: tests.test_ec2_catalog -*-
"""
An account's templates, read from EC2 and cached: L{AccountCatalog} holds
the latest L{occid.ec2.templates.Templates} and the catalogs built from
them, so that a request never waits for EC2 to learn the templates once they
are loaded.  L{AccountCatalog.refresh} is the blocking read (run in the EC2
thread pool, at start and by a timer): L{occid.ec2.answers.read_answers}
then L{occid.ec2.templates.templates_from}; L{AccountCatalog.adopt} takes
the answers another process of the host read (L{occid.ec2.sharedcatalog}).

Images users saved through occid (tagged C{occid:owner} and C{occid:vo} at
CreateImage) are not the account's templates: under every policy each
principal gets them as it sees other resources (its own; its VO's; a manager
all), in a catalog of its own whose C{version} differs from the account's
only when it holds some.  A saved image the site lists in C{[images] list}
(policies C{listed} and C{owned_and_listed}) is a template like the others,
offered to everyone.  L{AccountCatalog.remove_saved} stops offering one its
maker deleted (L{occid.ec2.images}).

Images C{occid-images} imported for the account's VOs (tagged
C{occid:source}, L{occid.ec2.distributed}) are offered under every policy,
titled with the appliance's title and carrying its references, unless
retired; L{AccountCatalog.refresh_distributed} reads them alone (one
tag-filtered DescribeImages), so the backend's one-minute timer notices a
new or retired one between the full refreshes.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import replace

from occid.accountconfig import GLOBAL_TEMPLATE_KEYS, TemplateKeys
from occid.config import DEFAULT_PATH, AwsConfig, ImagesConfig
from occid.ec2.answers import imported_answers, read_answers
from occid.ec2.clients import EC2Client
from occid.ec2.scope import Scope
from occid.ec2.tags import OWNER_TAG, VO_TAG
from occid.ec2.templates import (
    SavedImage,
    Templates,
    by_title,
    distributed_templates,
    mixin_keys,
    templates_from,
)
from occid.occi.catalog import Catalog
from occid.occi.errors import ServiceUnavailable
from occid.occi.infrastructure import os_tpl_mixin
from occid.occi.model import Mixin


class AccountCatalog:
    """
    The latest templates and catalog of one account, and the principals'
    catalogs built from them.  L{refresh}, L{add_saved} and L{remove_saved}
    run in a pool thread; readers in the reactor thread see either the old
    or the new state, never a mix.
    """

    def __init__(self, account: str, client: EC2Client, aws: AwsConfig, images: ImagesConfig,
                 public_host: str, config_path: str = DEFAULT_PATH,
                 keys: TemplateKeys = GLOBAL_TEMPLATE_KEYS, region: str = ""):
        self.account = account
        #: The region named by the images and zones, in a gateway of several
        #: regions; C{""} in a gateway of one.
        self.region = region
        #: The configuration file, named by the warnings about L{Dropped} values.
        self.config_path = config_path
        #: Where the account's templates are set, named by the same warnings.
        self.keys = keys
        self.public_host = public_host
        self._client = client
        self._aws = aws
        self._images = images
        self._state: tuple[Templates, Catalog, dict] | None = None
        self._loaded_at: float | None = None
        self._answers: dict | None = None
        self._lock = threading.Lock()

    @property
    def default_image(self) -> str:
        """C{[images] default}: the AMI of a create naming no os_tpl, or C{""}."""
        return self._images.default

    @property
    def default_zone(self) -> str | None:
        """
        C{[aws] availability_zone} when EC2 offers it, else C{None}.
        @raise ServiceUnavailable: no templates loaded yet.
        """
        zone = self._aws.availability_zone
        return zone if zone in self.templates.zones else None

    @property
    def loaded(self) -> bool:
        """Whether the templates have been read at least once."""
        return self._state is not None

    def age(self) -> float:
        """Seconds since the templates were last read in full; NaN before the first load."""
        loaded_at = self._loaded_at
        return math.nan if loaded_at is None else time.monotonic() - loaded_at

    @property
    def answers(self) -> dict | None:
        """EC2's answers the templates were built from (L{occid.ec2.answers.read_answers}); C{None} before."""
        return self._answers

    def refresh(self) -> Catalog:
        """Read the templates again (blocking) and publish them."""
        with self._lock:
            answers = read_answers(self._client, self._aws, self._images)
            return self._publish(answers, time.monotonic())

    def adopt(self, answers: dict, age: float) -> Catalog:
        """
        Publish the templates of C{answers} another process read from EC2
        C{age} seconds ago (L{occid.ec2.sharedcatalog}), without calling EC2.
        """
        with self._lock:
            return self._publish(answers, time.monotonic() - max(0.0, age))

    def _publish(self, answers: dict, loaded_at: float) -> Catalog:
        templates = templates_from(answers, self._aws, self._images, self.public_host,
                                   self.keys, self.region)
        self._state = (templates, templates.catalog(), {})
        self._answers = answers
        self._loaded_at = loaded_at
        return self._state[1]

    def refresh_distributed(self) -> bool:
        """
        Read the imported images again (blocking; one call) and publish
        them if they changed; whether they did.  Nothing before a first load.
        """
        with self._lock:
            if self._state is None or self._answers is None:
                return False
            imported = imported_answers(self._client)
            distributed = distributed_templates(imported, self.public_host, self.region)
            templates = self._state[0]
            if mixin_keys(distributed) == mixin_keys(templates.distributed):
                return False
            templates = replace(templates, distributed=distributed)
            self._state = (templates, templates.catalog(), {})
            self._answers = {**self._answers, "imported": imported}
            return True

    def image_mixin(self, image_id: str, title: str) -> Mixin:
        """The os_tpl mixin of one of this account's images (L{os_tpl_mixin})."""
        return os_tpl_mixin(image_id, title, self.public_host, self.region)

    def add_saved(self, image: SavedImage) -> None:
        """
        Offer C{image}, just saved by this process, without waiting for the
        next refresh.
        """
        with self._lock:
            templates, catalog, _ = self._current()
            if any(saved.mixin == image.mixin for saved in templates.saved):
                return
            templates = replace(templates, saved=templates.saved + (image,))
            self._state = (templates, catalog, {})

    def remove_saved(self, image_id: str) -> None:
        """
        Stop offering saved image C{image_id}, just deregistered by this
        process, without waiting for the next refresh.
        """
        with self._lock:
            templates, catalog, _ = self._current()
            kept = tuple(saved for saved in templates.saved if saved.mixin.term != image_id)
            self._state = (replace(templates, saved=kept), catalog, {})

    def catalog_for(self, scope: Scope) -> Catalog:
        """
        The catalog of C{scope}'s principal: the account's, plus the saved
        images it sees.  Built once per distinct set of those images.

        @raise ServiceUnavailable: none loaded yet.
        """
        templates, catalog, views = self._current()
        private = by_title(saved.mixin for saved in templates.saved
                            if scope.sees({OWNER_TAG: saved.owner, VO_TAG: saved.vo}))
        if not private:
            return catalog
        key = tuple(mixin.term for mixin in private)
        view = views.get(key)
        if view is None:
            view = views.setdefault(key, templates.catalog(private))
        return view

    def _current(self) -> tuple[Templates, Catalog, dict]:
        state = self._state
        if state is None:
            where = f"region {self.region} is unavailable: " if self.region else ""
            raise ServiceUnavailable(
                f"{where}the templates of account {self.account} are not loaded yet; "
                "try again shortly", retry_after=5)
        return state

    @property
    def templates(self) -> Templates:
        """The latest templates. @raise ServiceUnavailable: none loaded yet."""
        return self._current()[0]

    @property
    def catalog(self) -> Catalog:
        """The latest catalog. @raise ServiceUnavailable: none loaded yet."""
        return self._current()[1]
