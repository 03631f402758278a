"""The sidebar's account data comes through AccountDirectory, so another source plugs in."""

from dataclasses import replace

from helpdesk.accounts import AccountEventView, LocalAccountDirectory
from helpdesk.models import Role
from helpdesk.rules import utcnow


class RemoteDirectory(LocalAccountDirectory):
    """Stands in for a Bayit+ account service: the local data plus what 'the service' adds."""

    def summary(self, customer_id, *, exclude_ticket=None, viewer=None):
        local = super().summary(customer_id, exclude_ticket=exclude_ticket, viewer=viewer)
        remote = AccountEventView(utcnow(), "servicio", "Dato del servicio de cuentas")
        return replace(local, plan="Plan del servicio", events=(remote, *local.events))


def test_default_directory_reads_the_local_tables(login_as, make_user, make_customer,
                                                  make_ticket):
    customer = make_customer(plan="Familiar", country="MX", devices=["Roku", "iPhone"])
    older = make_ticket("Primera vez", customer_id=customer)
    ticket = make_ticket("Segunda vez", customer_id=customer)
    page = login_as(make_user(Role.AGENT)).get(f"/admin/tickets/{ticket}/").get_data(
        as_text=True)
    assert "Familiar" in page and "México" in page and "Roku, iPhone" in page
    assert f"#{older} Primera vez" in page and f"#{ticket} Segunda vez</a>" not in page


def test_another_directory_plugs_in_by_configuration(app, monkeypatch, login_as, make_user,
                                                     make_ticket):
    monkeypatch.setitem(app.config, "HELPDESK_ACCOUNT_DIRECTORY",
                        "tests.test_accounts.RemoteDirectory")
    ticket = make_ticket()
    page = login_as(make_user(Role.AGENT)).get(f"/admin/tickets/{ticket}/").get_data(
        as_text=True)
    assert "Plan del servicio" in page and "Dato del servicio de cuentas" in page
