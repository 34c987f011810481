import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client

from kameng.catalog.models import Delivery
from kameng.core.models import AuditLog
from kameng.core.roles import Role
from kameng.inventory import crypto, services
from kameng.inventory.error_codes import InventoryErrorCode as E
from kameng.inventory.models import CardKey, ImportBatch
from tests.factories import ProductFactory, UserFactory, refusal

pytestmark = pytest.mark.django_db


def _import(product, text, **kw):
    return services.import_card_keys(product=product, text=text, source=ImportBatch.Source.CLI, **kw)


def test_card_secrets_are_encrypted_at_rest():
    product = ProductFactory()
    _import(product, "SECRET-PLAIN-TEXT-0001")
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret_encrypted, secret_digest FROM inventory_cardkey")
        blob, digest = cursor.fetchone()
    assert b"SECRET-PLAIN-TEXT-0001" not in bytes(blob)
    assert "SECRET" not in digest
    assert crypto.decrypt_secret(bytes(blob), product_id=product.pk) == "SECRET-PLAIN-TEXT-0001"


def test_a_ciphertext_moved_to_another_product_does_not_decrypt():
    product = ProductFactory()
    blob = crypto.encrypt_secret("K-1", product_id=product.pk)
    with pytest.raises(Exception):  # noqa: B017 (cryptography's InvalidTag)
        crypto.decrypt_secret(blob, product_id=product.pk + 1)


def test_import_reports_duplicates_and_malformed_lines_and_imports_the_rest():
    product = ProductFactory()
    _import(product, "OLD-1")
    text = "NEW-1\n\nNEW-2\nNEW-1\nOLD-1\nBAD\x07BELL\n" + "X" * 600 + "\n  NEW-3  \n"
    batch = _import(product, text)
    assert (batch.imported, batch.duplicates, batch.malformed) == (3, 2, 2)
    assert batch.report == [
        {"line": 4, "reason": "duplicate"},
        {"line": 5, "reason": "duplicate"},
        {"line": 6, "reason": "invisible_characters"},
        {"line": 7, "reason": "too_long"},
    ]
    assert CardKey.objects.filter(product=product).count() == 4


def test_csv_rows_join_card_number_and_password():
    product = ProductFactory()
    batch = _import(product, "NO-1,PW-1\nNO-2,PW-2,EXTRA\n", csv_format=True)
    assert batch.imported == 1 and batch.malformed == 1
    key = CardKey.objects.get(product=product)
    assert crypto.decrypt_secret(bytes(key.secret_encrypted), product_id=product.pk) == "NO-1 PW-1"


def test_a_file_that_is_not_utf8_is_refused_whole():
    with refusal(E.NOT_UTF8):
        services.decode_upload("卡密".encode("gbk"))


def test_an_overlong_file_is_refused(settings):
    settings.KAMENG_IMPORT_MAX_BYTES = 10
    with refusal(E.FILE_TOO_LARGE):
        services.decode_upload(b"A" * 11)


def test_manual_products_take_no_card_keys():
    with refusal(E.MANUAL_PRODUCT):
        _import(ProductFactory(delivery=Delivery.MANUAL), "K")


def test_the_cli_imports_a_file_and_reports_rejected_lines(tmp_path):
    product = ProductFactory(sku="cli-sku")
    path = tmp_path / "keys.txt"
    path.write_text("A-1\nA-2\nA-1\n")
    out, err = io.StringIO(), io.StringIO()
    call_command("import_keys", "--sku", "cli-sku", str(path), stdout=out, stderr=err)
    assert "imported 2, duplicates 1, malformed 0" in out.getvalue()
    assert "line 3: duplicate" in err.getvalue()
    assert CardKey.objects.filter(product=product).count() == 2


def test_an_operator_imports_pasted_keys_in_the_admin_and_sees_the_report():
    product = ProductFactory()
    client = Client()
    client.force_login(UserFactory(role=Role.OPERATOR))
    response = client.post(
        "/admin/inventory/importbatch/import/", {"product": product.pk, "lines": "P-1\nP-1\nP-2"}
    )
    assert response.status_code == 200
    assert CardKey.objects.filter(product=product).count() == 2
    assert "重复" in response.content.decode()
    assert AuditLog.objects.filter(action="cardkeys.imported").exists()


def test_an_operator_uploads_a_file_in_the_admin_and_a_non_utf8_file_changes_nothing():
    product = ProductFactory()
    client = Client()
    client.force_login(UserFactory(role=Role.OPERATOR))
    good = io.BytesIO(b"F-1\nF-2\n")
    good.name = "keys.txt"
    assert (
        client.post("/admin/inventory/importbatch/import/", {"product": product.pk, "file": good}).status_code
        == 200
    )
    bad = io.BytesIO("卡密".encode("gbk"))
    bad.name = "keys.txt"
    response = client.post("/admin/inventory/importbatch/import/", {"product": product.pk, "file": bad})
    assert response.status_code == 400
    assert CardKey.objects.filter(product=product).count() == 2


def test_members_cannot_reach_the_import_page():
    client = Client()
    client.force_login(UserFactory())
    assert client.get("/admin/inventory/importbatch/import/").status_code == 302


def test_the_cli_imports_a_long_file_in_pieces_with_a_progress_bar_and_numbers_lines_as_in_the_file(tmp_path):
    product = ProductFactory(sku="long-sku")
    lines = [f"LONG-{n:05d}" for n in range(1200)] + ["LONG-00003"]
    path = tmp_path / "keys.txt"
    path.write_text("\n".join(lines))
    out, err = io.StringIO(), io.StringIO()
    call_command("import_keys", "--sku", "long-sku", "--progress", str(path), stdout=out, stderr=err)
    assert "imported 1200, duplicates 1, malformed 0" in out.getvalue()
    assert "100 %  1201/1201 lines" in err.getvalue() and " 41 %  500/1201 lines" in err.getvalue()
    assert "line 1201: duplicate" in err.getvalue()
    assert CardKey.objects.filter(product=product).count() == 1200


def test_a_piece_of_a_longer_file_reports_lines_numbered_as_in_the_file():
    product = ProductFactory()
    _import(product, "OLD-1")
    batch = _import(product, "NEW-1\nOLD-1", first_line=501)
    assert batch.report == [{"line": 502, "reason": "duplicate"}]
