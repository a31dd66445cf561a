"""Field errors of an activation (password, username, birth date) say nothing about the code."""

import datetime

import pytest
from django.contrib.auth import get_user_model

from tests.factories import UserFactory, staff_user
from tests.patients.activation.helpers import BIRTH, PASSWORD, REFUSED, activate

pytestmark = pytest.mark.django_db


# Field errors say nothing about the code ----------------------------------------------------------


@pytest.mark.parametrize(
    "password", ["short1", "password123", "12345678901234", "robin-app"], ids=str
)
def test_a_weak_password_is_a_400_on_password_and_leaves_the_code_usable(code, password):
    response = activate(code, password=password)

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"password"}
    assert activate(code).status_code == 201


def test_a_password_like_the_patients_own_name_is_refused(code):
    response = activate(code, password="robinokafor")

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"password"}


def test_a_taken_username_is_a_400_on_username_in_any_case(code):
    UserFactory(username="Robin-App")

    response = activate(code, username="robin-app")

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"username"}
    assert activate(code, username="robin-2").status_code == 201


def test_field_errors_come_the_same_with_a_good_or_a_bad_code(code):
    UserFactory(username="taken")
    good = activate(code, username="taken", password="short")
    bad = activate("ABCD-EFGH-JKMN", username="taken", password="short")

    assert good.status_code == bad.status_code == 400
    assert good.json() == bad.json()
    # The password's rules are for anyone to know; whether a username is taken is not.
    assert set(good.json()["fields"]) == {"password"}


@pytest.mark.parametrize(
    ("code_of", "date_of_birth"),
    [("wrong code", BIRTH), ("right code", datetime.date(1990, 1, 1))],
    ids=["wrong code", "wrong birth date"],
)
def test_without_the_code_and_birth_date_a_taken_username_is_not_told(code, code_of, date_of_birth):
    # given: a staff member's username, which someone wants to confirm
    staff_user(role="clinician", username="dr-ana")
    typed = code if code_of == "right code" else "ABCD-EFGH-JKMN"

    # when: they try it, in any case, and a free name, without the right code and birth date
    answers = [
        activate(typed, date_of_birth=date_of_birth, username=username)
        for username in ("dr-ana", "DR-Ana", "free-name-17")
    ]

    # then: one and the same refusal, which says nothing about the usernames
    assert [answer.status_code for answer in answers] == [400, 400, 400]
    assert [answer.json() for answer in answers] == [REFUSED] * 3


def test_the_database_refuses_a_username_differing_only_in_case():
    from django.db import IntegrityError, transaction

    User = get_user_model()
    User.objects.create_user("ana", password=PASSWORD)

    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user("Ana", password=PASSWORD)
    assert list(User.objects.filter(username__iexact="ana").values_list("username", flat=True)) == [
        "ana"
    ]


def test_a_username_clash_the_database_finds_is_a_400_on_username():
    from django.db import IntegrityError, transaction

    from clinic.api.errors import exception_handler

    get_user_model().objects.create_user("ana", password=PASSWORD)
    try:
        with transaction.atomic():
            get_user_model().objects.create_user("ANA", password=PASSWORD)
    except IntegrityError as error:
        response = exception_handler(error, {})
    else:
        pytest.fail("the database took a second 'ana'")

    assert response.status_code == 400
    assert response.data["fields"] == {"username": ["This username is taken; choose another."]}


def test_activating_with_a_username_taken_in_another_case_is_a_400_and_the_code_still_works(
    code,
):
    get_user_model().objects.create_user("robin-app", password=PASSWORD)

    response = activate(code, username="Robin-App")

    assert response.status_code == 400
    assert response.json()["fields"] == {"username": ["This username is taken; choose another."]}
    assert activate(code, username="robin-okafor").status_code == 201


def test_a_malformed_birth_date_is_a_field_error(code):
    response = activate(code, date_of_birth="09/04/1988")

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"date_of_birth"}
