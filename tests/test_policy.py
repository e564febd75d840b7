"""
Tests for L{occid.policy}: FQAN patterns, the first-match account table,
robot DNs, manager roles, limited proxies and ownership tags.
"""

from datetime import UTC, datetime

import pytest
from zope.interface.verify import verifyObject

from occid.config import AccountConfig, LimitedProxies, Visibility
from occid.gsi.principal import Principal, TokenSubject
from occid.interfaces import IAccountPolicy
from occid.occi.errors import Forbidden
from occid.policy import (
    AccountBinding,
    AccountPolicy,
    fqan_matches,
    robot_vo,
)

DN = "/DC=org/DC=example/OU=Users/CN=Test User"
ROBOT = "/DC=org/DC=example/OU=Robots/CN=robot.example.org"

ACCOUNTS = (
    AccountConfig(name="admins", fqans=("/alpha/Role=admin",), visibility="vo"),
    AccountConfig(
        name="alpha-analysis",
        fqans=("/alpha/analysis",),
        manager_fqans=("/alpha/Role=VMManager",),
    ),
    AccountConfig(
        name="alpha",
        fqans=("/alpha",),
        manager_fqans=("/alpha/Role=VMManager",),
        dns=(ROBOT,),
    ),
    AccountConfig(name="beta", fqans=("/beta",), visibility="vo"),
)


def principal(*fqans, vo=None, dn=DN, limited=False):
    """A principal holding C{fqans}; its VO is the first FQAN's top group."""
    if vo is None and fqans:
        vo = fqans[0].split("/")[1]
    return Principal(
        dn=dn,
        issuer_dn="/DC=org/DC=example/CN=Test Grid CA",
        proxy_depth=1,
        limited=limited,
        legacy=False,
        not_after=datetime(2030, 1, 1, tzinfo=UTC),
        vo=vo,
        fqans=tuple(fqans),
    )


def bind(p, accounts=ACCOUNTS, limited_proxies=LimitedProxies.READ_ONLY):
    """Bind C{p} with a policy over C{accounts}."""
    return AccountPolicy(accounts, limited_proxies).bind(p)


def test_provides_interface():
    """AccountPolicy provides IAccountPolicy."""
    assert verifyObject(IAccountPolicy, AccountPolicy(ACCOUNTS, LimitedProxies.READ_ONLY))


@pytest.mark.parametrize(
    "pattern, fqan, expected",
    [
        ("/alpha", "/alpha", True),
        ("/alpha", "/alpha/analysis/deep", True),
        ("/alpha", "/alpha/Role=admin", True),
        ("/alpha", "/alphabet", False),
        ("/alpha/analysis", "/alpha", False),
        ("/alpha/analysis", "/alpha/analysisx", False),
        ("/alpha/Role=admin", "/alpha/Role=admin", True),
        ("/alpha/Role=admin", "/alpha/sub/Role=admin", True),
        ("/alpha/Role=admin", "/alpha", False),
        ("/alpha/Role=admin", "/alpha/Role=user", False),
        ("/alpha/Capability=c", "/alpha/Capability=c", True),
        ("/alpha/Capability=c", "/alpha", False),
        ("/alpha/Role=admin/Capability=c", "/alpha/Role=admin/Capability=c", True),
        ("/alpha/Role=admin/Capability=c", "/alpha/Role=admin", False),
        ("/alpha/Role=b", "/alpha/Role=a/Role=b", True),
        ("/alpha/Role=a", "/alpha/Role=a/Role=b", False),
    ],
)
def test_fqan_matches(pattern, fqan, expected):
    """A pattern matches itself and its subgroups (by whole group names),
    with any role unless it names one."""
    assert fqan_matches(pattern, fqan) is expected


def test_first_fqan_decides():
    """The principal's FQANs are tried in order: the primary FQAN's account
    wins even when a later FQAN matches an earlier account."""
    assert bind(principal("/beta", "/alpha/Role=admin", vo="beta")).account == "beta"


def test_first_account_in_file_order_wins():
    """For one FQAN, the first account (file order) with a matching pattern
    wins: /alpha/analysis is served by alpha-analysis, not alpha."""
    binding = bind(principal("/alpha/analysis"))
    assert binding == AccountBinding(
        account="alpha-analysis", visibility=Visibility.OWNER, writable=True, vo="alpha"
    )
    reordered = (ACCOUNTS[2], ACCOUNTS[1])
    assert bind(principal("/alpha/analysis"), reordered).account == "alpha"


def test_subgroup_matches_vo_pattern():
    """A FQAN in a subgroup the table does not list falls to the VO-wide
    pattern."""
    assert bind(principal("/alpha/other/deep")).account == "alpha"


def test_role_pattern():
    """A pattern with a role serves only FQANs with that role; without the
    role the next matching account serves."""
    admin = bind(principal("/alpha/Role=admin"))
    assert (admin.account, admin.visibility) == ("admins", Visibility.VO)
    assert bind(principal("/alpha")).account == "alpha"


def test_manager_role():
    """Holding one of the account's manager FQANs, even as a secondary FQAN,
    gives manager visibility."""
    assert bind(principal("/alpha", "/alpha/Role=VMManager")).visibility == Visibility.MANAGER
    assert bind(principal("/alpha")).visibility == Visibility.OWNER


def test_manager_role_of_another_account_does_not_count():
    """A manager FQAN only counts for the account that lists it."""
    assert bind(principal("/beta", "/alpha/Role=VMManager", vo="beta")).visibility == Visibility.VO


def test_no_match_names_the_vo():
    """A VO with no account gets 403 naming the VO."""
    with pytest.raises(Forbidden) as raised:
        bind(principal("/gamma", "/gamma/Role=admin"))
    assert raised.value.message == "VO gamma has no account on this service"
    assert raised.value.status == 403


def test_no_voms_attributes():
    """Without VOMS attributes (and not a robot) the 403 says how to get
    them."""
    with pytest.raises(Forbidden) as raised:
        bind(principal())
    assert "voms-proxy-init --voms" in raised.value.message


def test_robot_dn():
    """A DN listed in an account's dns is served without VOMS attributes;
    its VO tag is the account name behind "@"."""
    binding = bind(principal(dn=ROBOT))
    assert binding == AccountBinding(account="alpha", visibility=Visibility.OWNER, writable=True, vo="@alpha")


def test_fqans_come_before_dns():
    """A listed DN whose proxy carries FQANs matching an account is served
    by the FQAN's account, with the AC's VO, not by the robot account."""
    binding = bind(principal("/beta", dn=ROBOT))
    assert (binding.account, binding.vo) == ("beta", "beta")


def test_dns_serve_unmatched_fqans():
    """A listed DN whose FQANs match no account is served as a robot."""
    binding = bind(principal("/gamma", dn=ROBOT))
    assert (binding.account, binding.vo) == ("alpha", "@alpha")


def test_robot_vo_is_not_a_vo_name():
    """Under vo visibility, the robots of an account named like a VO do not
    share that VO's tag: the robot's VO value cannot be a VO name."""
    accounts = (AccountConfig(name="beta", fqans=("/beta",), visibility="vo", dns=(ROBOT,)),)
    member, robot = bind(principal("/beta"), accounts), bind(principal(dn=ROBOT), accounts)
    assert (member.account, robot.account) == ("beta", "beta")
    assert member.vo == "beta"
    assert robot.vo == robot_vo("beta") == "@beta"


def test_limited_read_only():
    """In read-only mode a limited proxy is bound but not writable."""
    binding = bind(principal("/alpha", limited=True))
    assert (binding.account, binding.writable) == ("alpha", False)


def test_limited_refused():
    """In refuse mode a limited proxy gets 403, even a robot's."""
    for p in (principal("/alpha", limited=True), principal(dn=ROBOT, limited=True)):
        with pytest.raises(Forbidden) as raised:
            bind(p, limited_proxies=LimitedProxies.REFUSE)
        assert "limited proxies are refused" in raised.value.message
    assert bind(principal("/alpha"), limited_proxies=LimitedProxies.REFUSE).writable


def test_bad_limited_mode():
    """An unknown limited_proxies mode is a programming error."""
    with pytest.raises(ValueError):
        AccountPolicy(ACCOUNTS, "sometimes")


def test_limited_mode_by_its_word():
    """The file's word for a mode is taken as the mode itself."""
    p = principal("/alpha", limited=True)
    with pytest.raises(Forbidden):
        bind(p, limited_proxies="refuse")
    assert not bind(p, limited_proxies="read-only").writable


ISSUER = "https://aai.egi.eu/auth/realms/egi"


def token_user(*fqans, sub="u@egi.eu"):
    """A token user whose entitlements gave C{fqans}."""
    return Principal(not_after=datetime(2030, 1, 1, tzinfo=UTC), fqans=tuple(fqans),
                     vo=fqans[0].split("/")[1] if fqans else None,
                     token=TokenSubject(ISSUER, sub))


def test_token_user_bound_like_a_proxy():
    """Group paths of entitlements match fqans patterns and manager_fqans unchanged."""
    assert bind(token_user("/alpha/Role=vm_operator")) == AccountBinding(
        account="alpha", visibility=Visibility.OWNER, writable=True, vo="alpha")
    assert bind(token_user("/alpha", "/alpha/Role=VMManager")).visibility is Visibility.MANAGER


def test_token_user_of_several_vos_takes_the_matching_vo():
    """A token's entitlements may span VOs: the binding's VO is the matching path's."""
    assert bind(token_user("/gamma", "/beta")).vo == "beta"


def test_token_user_vo_without_account():
    """Entitlements of VOs with no account: 403 naming them all."""
    with pytest.raises(Forbidden) as e:
        bind(token_user("/gamma", "/delta/Role=x"))
    assert e.value.message == "VOs gamma, delta have no account on this service"


def test_token_user_without_entitlements():
    """No entitlements and not in subs: 403 saying what to ask for."""
    with pytest.raises(Forbidden) as e:
        bind(token_user())
    assert "eduperson_entitlement" in e.value.message


def test_token_robot_by_subs():
    """A token subject listed in subs is served as a robot; a DN-like sub is not."""
    accounts = (*ACCOUNTS, AccountConfig(name="robots", subs=(f"{ISSUER} robot@egi.eu",)))
    assert bind(token_user(sub="robot@egi.eu"), accounts).vo == robot_vo("robots")
    with pytest.raises(Forbidden):
        bind(token_user(sub=ROBOT), accounts)  # a DN in dns does not serve a token user


def test_token_owner_never_a_dn_owner():
    """A token user whose sub is a DN does not own what that DN's proxy made."""
    assert token_user(sub=DN).owner != principal("/alpha").owner
