# -*- test-case-name: tests.test_testing,tests.test_ec2_contract -*-
"""
The contracts between occid's layers; no implementation lives here.  Part
of the pure core: no Twisted, no boto3, no botocore.

The Twisted edge knows only these interfaces.  For one request it asks the
L{IAuthenticator}'s principal (made once per TLS connection) for an account
binding from the L{IAccountPolicy}, then asks the L{IBackend} for the
L{ICatalog} and the L{IEntityCollection} of each kind, bound to that
principal and account, for user-defined mixins the L{IMixinStore}, and for
the images users saved the L{IImageStore}.
Every provider is checked with C{verifyObject} in the tests, and the
in-memory fakes in L{occid.testing} pass the same contract tests as the EC2
providers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zope.interface import Attribute, Interface

if TYPE_CHECKING:
    from occid.occi.model import Category, Kind, Mixin


class IAuthenticator(Interface):
    """
    Turns the certificate chain a TLS client presented into a principal.
    """

    epoch = Attribute(
        "A value that changes whenever the trust material changes: a principal "
        "validated under another epoch must be validated again (a connection "
        "opened before a new CRL, say).")

    def authenticate(chain, tls_errors, now):
        """
        Validate a client chain and read its VOMS attributes.

        @param chain: the client's certificates, leaf (the proxy) first, as
            C{cryptography.x509.Certificate}s; empty when the client sent none.
        @param tls_errors: OpenSSL's verification errors recorded during the
            handshake, as C{(depth, error_number)} pairs.
        @param now: the current time, an aware C{datetime} in UTC.
        @return: an L{occid.gsi.principal.Principal}.
        @raise occid.gsi.principal.CertificateRejected: the chain fails a
            rule; the exception names the rule, the reason and the fix.
        """


class ITokenAuthenticator(Interface):
    """
    Turns a bearer token (an OIDC access token) into a principal.
    """

    def authenticate(token, now):
        """
        Validate C{token} by the token rules (T1-T10 of docs/security.md) and
        find its entitlements.

        @param token: the token as the request carried it.
        @param now: the current time, an aware C{datetime} in UTC.
        @return: a Deferred firing with an L{occid.gsi.principal.Principal}
            whose C{token} is set.
        @raise occid.oidc.refusal.TokenRejected: (as the Deferred's failure)
            the token fails a rule; the exception names the rule and the
            reason.
        @raise occid.occi.errors.ServiceUnavailable: (likewise) the issuer's
            keys, userinfo or introspection could not be reached.
        """


class IAccountPolicy(Interface):
    """
    Decides which AWS account serves a principal, and what it may do there.
    """

    def bind(principal):
        """
        @param principal: an L{occid.gsi.principal.Principal}.
        @return: an L{occid.policy.AccountBinding}.
        @raise occid.occi.errors.Forbidden: no account serves the principal
            (the message names its VO, or says it has no VOMS attributes), or
            its limited proxy is refused outright.
        """


class ICatalog(Interface):
    """
    The categories one account offers: the OCCI infrastructure kinds,
    mixins and actions, plus that account's os_tpl, resource_tpl and
    availability_zone templates.  Immutable: a refresh makes a new catalog
    with a new C{version}.
    """

    version = Attribute(
        "A string that changes whenever the categories change; the web layer "
        "caches renderings of the query interface by (account, version, media "
        "type)."
    )
    kinds = Attribute("The kinds, a tuple of L{occid.occi.model.Kind}.")
    mixins = Attribute("The mixins, a tuple of L{occid.occi.model.Mixin}.")
    actions = Attribute("The actions, a tuple of L{occid.occi.model.Action}.")

    def lookup(identifier: str) -> Category | None:
        """
        @param identifier: C{scheme + term} of a category.
        @return: the L{occid.occi.model.Category} with that identifier, or
            C{None}.
        """

    def kind_at(location: str) -> Kind | None:
        """
        @param location: a collection path such as C{/compute/}.
        @return: the L{occid.occi.model.Kind} bound to it, or C{None}.
        """

    def mixin_at(location: str) -> Mixin | None:
        """
        @param location: a collection path such as C{/mixin/os_tpl/ami-1/}.
        @return: the L{occid.occi.model.Mixin} bound to it, or C{None}.
        """


class IEntityCollection(Interface):
    """
    The entities of one kind that one principal may see in one account.
    Every method returns a C{Deferred}; failures are
    L{occid.occi.errors.OCCIError}s.  Another user's entity is reported as
    not found, never as forbidden.
    """

    kind = Attribute("The L{occid.occi.model.Kind} of this collection.")

    def list(filter):
        """
        @param filter: an L{occid.occi.model.EntityFilter}.
        @return: a C{Deferred} firing with a list of L{occid.occi.model.Entity},
            ordered by id; never cached.
        """

    def get(id):
        """
        @param id: the entity id (C{i-…}, C{vol-…}, a link id).
        @return: a C{Deferred} firing with the L{occid.occi.model.Entity} as it
            is now.
        @raise occid.occi.errors.NotFound: no such entity visible here.
        """

    def create(entity, idempotency_key=None):
        """
        @param entity: a L{occid.occi.model.Entity} resolved against the
            catalog; its C{id} is empty and ignored.  Inline links of a
            resource are made with it.
        @param idempotency_key: the request's C{Idempotency-Key}
            (L{occid.occi.idempotency.check_key}), or C{None}.  While the
            entity an earlier create of this principal with the same key
            made exists, a create with the same key and an equal C{entity}
            (L{occid.occi.idempotency.request_digest}) makes nothing and
            fires with that entity.
        @return: a C{Deferred} firing with the created entity, C{id} set.
            If any step fails, what was made is undone before the failure is
            reported.
        @raise occid.occi.errors.Conflict: the key was used for an earlier
            create with another entity, or for one whose entity was deleted
            since (EC2 refuses the client token of a terminated instance).
        @raise occid.occi.errors.BadRequest: this kind does not honour an
            idempotency key (only compute does).
        """

    def update(id, changes):
        """
        @param changes: an L{occid.occi.model.Changes}.
        @return: a C{Deferred} firing with the updated entity.
        @raise occid.occi.errors.Conflict: not possible in the current state.
        @raise occid.occi.errors.Forbidden: an immutable attribute was named.
        """

    def delete(id):
        """
        @return: a C{Deferred} firing with C{None} once the entity is being
            deleted.
        """

    def trigger(id, action, attributes):
        """
        @param action: an L{occid.occi.model.Action} of this kind.
        @param attributes: the action's parameters, name to value.
        @return: a C{Deferred} firing with the entity after the action, the
            entity of another kind the action made (a storage's C{snapshot}
            and C{backup} fire with the new snapshot), or a
            L{occid.occi.model.Category} the action produced (C{save} fires
            with the new os_tpl mixin).
        @raise occid.occi.errors.Conflict: not possible in the current state;
            the message names the state.
        """


class IMixinStore(Interface):
    """
    The user-defined mixins of one account, as one principal may use them
    (GFD.185: defined through C{POST /-/}, associated through their
    location).  Definitions are seen under the binding's visibility, like
    entities; memberships are kept on the entities.  Every method returns a
    C{Deferred}; failures are L{occid.occi.errors.OCCIError}s, and a
    read-only binding's writes fail with
    L{occid.occi.errors.Forbidden}.  L{IBackend.catalog} lists the
    definitions the principal sees (L{occid.occi.usermixins}), and entities
    render the user mixins they carry.
    """

    def define(mixin):
        """
        Keep a new definition, owned by the principal, in its VO.

        @param mixin: a L{occid.occi.model.Mixin} from
            L{occid.occi.usermixins.definition_request}, already checked
            against the principal's catalog.
        @return: a C{Deferred} firing with the defined mixin.
        @raise occid.occi.errors.Conflict: a definition of the account
            (whatever its VO) has its identifier or location.
        """

    def remove(mixin):
        """
        Remove a definition and its memberships.

        @param mixin: a user mixin of the principal's catalog.
        @return: a C{Deferred} firing with C{None}.
        @raise occid.occi.errors.Forbidden: neither its creator nor a manager.
        @raise occid.occi.errors.NotFound: no such definition (any more).
        """

    def associate(mixin, targets, replace):
        """
        Tag entities with C{mixin}.  Every target is checked (visible,
        taggable) before anything is tagged.

        @param targets: C{(kind, id)} pairs from
            L{occid.occi.usermixins.targets}.
        @param replace: when true the targets become the members: the other
            entities the principal sees that carry C{mixin} lose it (PUT).
        @return: a C{Deferred} firing with C{None}.
        @raise occid.occi.errors.NotFound: a target is not visible here.
        """

    def dissociate(mixin, targets):
        """
        Untag entities; one that does not carry C{mixin} is left alone.

        @return: a C{Deferred} firing with C{None}.
        @raise occid.occi.errors.NotFound: a target is not visible here.
        """


class IImageStore(Interface):
    """
    The images users of one account saved (C{save}), as one principal may
    delete them.  A saved image is offered, as an os_tpl mixin of the
    principal's catalog, to those who see its maker's resources (the
    binding's visibility); one the site offers (its C{[images]}) is not the
    users' to delete.
    """

    def remove(mixin):
        """
        Deregister a saved image and delete its snapshots; the catalogs stop
        offering it at once.

        @param mixin: an os_tpl mixin of the principal's catalog.
        @return: a C{Deferred} firing with C{None}.
        @raise occid.occi.errors.NotFound: no such saved image visible here
            (any more).
        @raise occid.occi.errors.Forbidden: an image the site offers, or one
            the principal neither saved nor manages, or a read-only binding.
        """


class IBackend(Interface):
    """
    The cloud behind occid: hands out catalogs and entity collections bound
    to one principal and one account.
    """

    def catalog(binding, principal=None):
        """
        @param binding: an L{occid.policy.AccountBinding}.
        @param principal: the L{occid.gsi.principal.Principal} asking, whose
            private templates (images saved by those it may see) and the
            user mixins it sees (L{IMixinStore}) are added; C{None} for the
            account's shared catalog.
        @return: a C{Deferred} firing with the L{ICatalog}, from memory once
            the account's catalog has been loaded.  Principals without
            private templates get the account's catalog, with its version.
        """

    def collection(kind, principal, binding):
        """
        @param kind: one of the catalog's L{occid.occi.model.Kind}s that has a
            location.
        @param principal: the L{occid.gsi.principal.Principal} of the request.
        @param binding: its L{occid.policy.AccountBinding}.
        @return: the L{IEntityCollection} for C{kind}.
        @raise occid.occi.errors.NotFound: no collection for that kind.
        """

    def mixins(principal, binding):
        """
        @param principal: the L{occid.gsi.principal.Principal} of the request.
        @param binding: its L{occid.policy.AccountBinding}.
        @return: the L{IMixinStore} of the account, bound to the principal.
        """

    def images(principal, binding):
        """
        @param principal: the L{occid.gsi.principal.Principal} of the request.
        @param binding: its L{occid.policy.AccountBinding}.
        @return: the L{IImageStore} of the account, bound to the principal.
        """

    def breaker_states():
        """
        The state of the cloud's circuit breakers, for /metrics and /readyz;
        without calling the cloud.

        @return: a list of C{(account, region, state)} strings, one per
            account and region served; C{state} is C{closed} (calls go
            through), C{open} (calls are answered 503 with C{Retry-After}
            at once) or C{half-open} (the next call probes the cloud).
        """
