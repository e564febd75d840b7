"""Packaging for occid, an OCCI gateway to Amazon EC2 for grid users."""

from glob import glob

from setuptools import find_packages, setup

with open("README.md", encoding="utf-8") as readme:
    long_description = readme.read()

setup(
    name="occid",
    version="0.1.0",
    description="OCCI gateway to Amazon EC2 with X.509 proxy and VOMS authentication",
    long_description=long_description,
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.11",
    # twisted/plugins has no __init__.py on purpose (Twisted's plugin loader
    # skips plugin directories that have one), so find_packages() cannot see it.
    packages=find_packages(exclude=["tests", "tests.*", "bench", "bench.*"])
    + ["twisted.plugins"],
    package_data={"occid.demo": ["demo_amis.json"]},
    # The sample configuration and the systemd units, for the admin to copy
    # (README: Install): <prefix>/share/occid/etc and <prefix>/share/occid/systemd.
    data_files=[
        ("share/occid/etc", ["etc/occid.toml"]),
        ("share/occid/systemd", sorted(glob("systemd/*.service") + glob("systemd/*.timer"))),
    ],
    install_requires=[
        "twisted[tls]>=24.7",
        "pyopenssl>=24.3",  # get_peer_cert_chain(as_cryptography=True)
        "service-identity>=24.1",
        "cryptography>=42",
        "asn1crypto>=1.5",
        "boto3>=1.34",
        "zope.interface>=6.0",
        # OIDC access tokens: JWS with explicit algorithm allow-lists, JWK sets.
        "joserfc>=1.0",
        "dirq>=1.8",  # the spools ssmsend reads (occid-accounting)
        # /metrics ([metrics]): the Prometheus text format and its counters,
        # histograms and gauges, in occid's own registry (occid/metrics.py).
        "prometheus-client>=0.20",
    ],
    extras_require={
        "demo": ["moto[server]>=5.0"],
        # The service discovery command (occid/discovery): EGI's tool, whose
        # provider API occid.discovery.provider subclasses.
        "discovery": ["cloud-info-provider>=1.2,<1.3"],
        "test": [
            "pytest>=8",
            "hypothesis>=6.100",
            "jsonschema>=4.20",
            "treq>=24.9",
            "moto[server]>=5.0",
            "oras>=0.2",
        ],
        # The type checker and linter .ci/run runs, pinned so that a new
        # release cannot turn a green tree red overnight.
        "lint": ["mypy==2.4.1", "mypy-zope==1.0.17", "ruff==0.17.6"],
    },
    entry_points={
        "console_scripts": ["occid-accounting = occid.accounting.command:script",
                            "occid-images = occid.distribution.command:main"],
        # cloud-info-provider loads its providers from this group
        # (cloud-info-provider-service --middleware occid); inert without the
        # discovery extra.
        "cip.providers": ["occid = occid.discovery.provider:OccidProvider"],
    },
    classifiers=[
        "Framework :: Twisted",
        "Programming Language :: Python :: 3.11",
        "License :: OSI Approved :: Apache Software License",
    ],
)
