# -*- test-case-name: tests.test_ec2_catalog -*-
"""
What EC2 says of an account's templates, read with boto3 (blocking, run in
the EC2 thread pool): the images the site's C{[images]} policy offers, those
C{occid-images} imported and those users saved through occid
(DescribeImages), the configured instance types (DescribeInstanceTypes) and
the available zones (DescribeAvailabilityZones).

L{read_answers} keeps the parts of EC2's answers the templates use, as
plain JSON-able data: what one process reads and every process of the host
can build its templates from (L{occid.ec2.templates.templates_from},
L{occid.ec2.sharedcatalog}).
"""

from __future__ import annotations

from collections.abc import Iterable

from occid.accountconfig import GLOBAL_TEMPLATE_KEYS, TemplateKeys
from occid.config import AwsConfig, ImagesConfig
from occid.ec2.clients import EC2Client
from occid.ec2.distributed import SOURCE_TAG, distributed_query, offered
from occid.ec2.errors import translated
from occid.ec2.tags import OWNER_TAG, tag_dict
from occid.ec2.templates import Templates, templates_from

#: Page size of the paginated Describe calls (the EC2 maximum).
PAGE_SIZE = 1000

#: The instance type names asked for in one DescribeInstanceTypes call.
TYPES_PER_CALL = 100


def image_query(images: ImagesConfig) -> dict:
    """The DescribeImages parameters of the site's image policy."""
    query: dict = {"Filters": [{"Name": "image-type", "Values": ["machine"]},
                               {"Name": "state", "Values": ["available"]}]}
    if images.policy.uses_owned:
        query["Owners"] = ["self"]
    if images.policy.uses_list:
        # A filter, not ImageIds: one stale id must not fail the whole call.
        query["Filters"].append({"Name": "image-id", "Values": list(images.list)})
    return query


def offered_images(client: EC2Client, images: ImagesConfig) -> list[dict]:
    """
    The DescribeImages descriptions of the images the site's policy offers
    as templates (blocking): those of the policy's query, less the images
    users saved through occid unless the site lists them.
    """
    query = image_query(images)
    if images.policy.uses_list:
        found = client.describe_images(**query)["Images"]
    else:
        pages = client.get_paginator("describe_images").paginate(
            PaginationConfig={"PageSize": PAGE_SIZE}, **query
        )
        found = [image for page in pages for image in page["Images"]
                 if OWNER_TAG not in tag_dict(image)]
    return [image for image in found if SOURCE_TAG not in tag_dict(image)]


def imported_images(client: EC2Client) -> list[dict]:
    """
    The DescribeImages descriptions of the account's images imported by
    C{occid-images} and not retired (blocking; one paged call): offered
    whatever the policy.
    """
    pages = client.get_paginator("describe_images").paginate(
        PaginationConfig={"PageSize": PAGE_SIZE}, **distributed_query())
    return [image for page in pages for image in page["Images"] if offered(tag_dict(image))]


def imported_answers(client: EC2Client) -> list[dict]:
    """The parts of L{imported_images} their templates are built from (blocking)."""
    return [image_fields(image, "ImageId", "Tags") for image in imported_images(client)]


def saved_images(client: EC2Client) -> list[dict]:
    """The descriptions of the account's images saved through occid, pending ones included."""
    pages = client.get_paginator("describe_images").paginate(
        Owners=["self"], PaginationConfig={"PageSize": PAGE_SIZE},
        Filters=[{"Name": "image-type", "Values": ["machine"]},
                 {"Name": "state", "Values": ["pending", "available"]},
                 {"Name": "tag-key", "Values": [OWNER_TAG]}])
    return [image for page in pages for image in page["Images"]]



def instance_types(client: EC2Client, names: Iterable[str]) -> dict[str, dict]:
    """
    The DescribeInstanceTypes descriptions of the C{names} EC2 knows, by
    name; a name it does not know is missing from the result.  Asked with
    the C{instance-type} filter, C{TYPES_PER_CALL} names at a time, not with
    C{InstanceTypes}: one unknown name, or more than 100, would fail the
    whole call.
    """
    names = tuple(names)
    found = {}
    paginator = client.get_paginator("describe_instance_types")
    for start in range(0, len(names), TYPES_PER_CALL):
        chunk = list(names[start:start + TYPES_PER_CALL])
        for page in paginator.paginate(Filters=[{"Name": "instance-type", "Values": chunk}]):
            for info in page["InstanceTypes"]:
                found[info["InstanceType"]] = info
    return found


def image_fields(image: dict, *names: str) -> dict:
    """The fields C{names} of an image description (what the templates use of it)."""
    return {name: image[name] for name in names if name in image}


@translated
def read_answers(client: EC2Client, aws: AwsConfig, images: ImagesConfig) -> dict:
    """
    What EC2 says of the account's templates (blocking; six calls), as plain
    JSON-able data, the parts of its answers L{occid.ec2.templates.templates_from} uses: what
    one process reads and every process of the host can build its
    templates from (L{occid.ec2.sharedcatalog}).
    """
    return {
        "images": [image_fields(image, "ImageId", "Name")
                   for image in offered_images(client, images)],
        "imported": imported_answers(client),
        "types": instance_types(client, aws.instance_types),
        "zones": sorted(
            zone["ZoneName"]
            for zone in client.describe_availability_zones(
                Filters=[{"Name": "state", "Values": ["available"]}]
            )["AvailabilityZones"]
        ),
        "saved": [image_fields(image, "ImageId", "Name", "Tags")
                  for image in saved_images(client)],
    }


def load_templates(client: EC2Client, aws: AwsConfig, images: ImagesConfig, public_host: str,
                   keys: TemplateKeys = GLOBAL_TEMPLATE_KEYS, region: str = "") -> Templates:
    """Read the account's templates from EC2 (blocking; six calls): L{occid.ec2.templates.templates_from}."""
    return templates_from(read_answers(client, aws, images), aws, images, public_host,
                          keys, region)
