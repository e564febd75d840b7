"""
The EC2 edge: occid's OCCI entities kept as EC2 resources, one boto3 client
per AWS account, every boto3 call in a dedicated thread pool.

By layer, pure first:

  - L{occid.ec2.vocabulary} and L{occid.ec2.tags}: the AWS words (EC2
    marker mixins, the resource_tpl scheme of instance types, EC2 ids) and
    the tags occid keeps its state in; L{occid.ec2.intents} and
    L{occid.ec2.scope}: the links tag and a principal's view of an account.
  - L{occid.ec2.mapping}: EC2 descriptions to OCCI entities.
  - L{occid.ec2.planning}: requests checked and planned before any call.
  - L{occid.ec2.compute}, L{occid.ec2.launch}, L{occid.ec2.storage},
    L{occid.ec2.network}, L{occid.ec2.links}, L{occid.ec2.snapshots}: the
    blocking operations, each
    taking an account and a scope; L{occid.ec2.answers} (what EC2 says
    of an account's templates), L{occid.ec2.templates} (the templates built
    from it) and L{occid.ec2.catalog} (the cached catalogs),
    L{occid.ec2.reconciler} (links made later, leftovers removed),
    L{occid.ec2.account} (what one account shares), L{occid.ec2.clients}
    (each call counted and timed by L{occid.ec2.observed})
    and L{occid.ec2.errors} (botocore failures as OCCI errors).
  - L{occid.ec2.adapter}: the one threaded adapter providing
    L{occid.interfaces.IEntityCollection} for every kind, and
    L{occid.ec2.backend}: the L{occid.interfaces.IBackend} (over
    L{occid.ec2.accounts}, with L{occid.ec2.watched} computes and
    L{occid.ec2.reports} of the reconciler), and L{occid.ec2.service}: its
    Twisted service.
"""

__all__ = [
    "account",
    "accounts",
    "adapter",
    "answers",
    "backend",
    "catalog",
    "clients",
    "compute",
    "errors",
    "intents",
    "launch",
    "links",
    "mapping",
    "network",
    "observed",
    "planning",
    "reconciler",
    "reports",
    "scope",
    "service",
    "snapshots",
    "storage",
    "tags",
    "templates",
    "vocabulary",
    "watched",
]
