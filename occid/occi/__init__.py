# -*- test-case-name: tests.test_occi_model,tests.test_occi_text,tests.test_occi_rendering -*-
"""
The OCCI model and its renderings, part of the pure core: no Twisted, no
boto3, no botocore; the same input always gives the same output.

Modules, one job each:
  - L{occid.occi.model}: categories, entities and the parsed L{Document};
  - L{occid.occi.corekinds}: the OCCI Core kinds;
  - L{occid.occi.infrastructure}: the OCCI infrastructure categories;
  - L{occid.occi.catalog}: the categories one account offers;
  - L{occid.occi.resolve}: a parsed document checked against a catalog;
  - L{occid.occi.errors}: the errors and the status each is answered with;
  - L{occid.occi.grammar}: the value grammar of the text renderings;
  - L{occid.occi.textparse} / L{occid.occi.textrender}: reading and writing
    text/plain, text/occi and text/uri-list;
  - L{occid.occi.json} / L{occid.occi.jsonrender}: reading and writing
    application/occi+json;
  - L{occid.occi.rendering}: the media-type API the web layer uses;
  - L{occid.occi.negotiation}: choosing the media type of a response.
"""

__all__ = [
    "catalog",
    "corekinds",
    "errors",
    "grammar",
    "infrastructure",
    "json",
    "jsonrender",
    "model",
    "negotiation",
    "rendering",
    "resolve",
    "textparse",
    "textrender",
]
