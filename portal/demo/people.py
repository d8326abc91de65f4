"""Made-up people on probation for the demo history: names, CRNs, prison numbers and the equality
details a referral carries, drawn from a seeded random generator so every load makes the same people.

Every name is invented; CRNs start with X and prison numbers with A, as the examples in DESIGN.md do.
Phone numbers are Ofcom's numbers for drama (07700 900xxx), never a real line.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from datetime import date

# ONS 2021 ethnic groups, weighted roughly as the BeNCH caseload: (code, weight, name pool).
ETHNICITY_WEIGHTS = (
    ("white_british", 66, "british"),
    ("white_other", 7, "eastern_european"),
    ("white_irish", 2, "irish"),
    ("white_gypsy_irish_traveller", 2, "irish"),
    ("black_caribbean", 4, "caribbean"),
    ("black_african", 3, "african"),
    ("black_other", 1, "caribbean"),
    ("asian_pakistani", 3, "south_asian"),
    ("asian_indian", 2, "south_asian"),
    ("asian_bangladeshi", 2, "bangladeshi"),
    ("asian_other", 1, "south_asian"),
    ("mixed_white_black_caribbean", 3, "british"),
    ("mixed_white_asian", 1, "british"),
    ("mixed_other", 1, "british"),
    ("other_arab", 1, "arab"),
    ("not_stated", 3, "british"),
)

GIVEN_NAMES = {
    ("british", "male"): (
        "Jack Liam Connor Ryan Jordan Kieran Lewis Dean Craig Lee Shaun Darren Wayne Jamie Callum Ashley Kyle "
        "Bradley Nathan Luke Daniel Thomas Michael Paul Gary Stuart Scott Aaron Jake Reece Tyler Mason Harvey"
    ),
    ("british", "female"): (
        "Kelly Gemma Leanne Stacey Danielle Jade Chelsea Amy Laura Kirsty Hayley Nicola Tracey Donna Sharon "
        "Charlotte Emma Rebecca Katie Shannon Paige Courtney Lauren Sophie Zoe"
    ),
    ("irish", "male"): "Patrick Sean Michael Connor Declan Liam Martin John Francis Tommy",
    ("irish", "female"): "Siobhan Mary Bridget Niamh Kathleen Roisin Aoife",
    ("eastern_european", "male"): "Piotr Tomasz Marcin Andrei Mihai Darius Lukas Jakub Pavel Marek Adrian",
    ("eastern_european", "female"): "Agnieszka Ioana Monika Elena Kristina Anna Daria",
    ("caribbean", "male"): "Andre Marcus Tyrone Jermaine Dwayne Leon Clinton Delroy Kemar Jerome",
    ("caribbean", "female"): "Shanice Keisha Tanisha Monique Marcia Simone Chantelle",
    ("african", "male"): "Emmanuel Samuel Kwame Kofi Tendai Chidi Abdi Yusuf Olu Tunde",
    ("african", "female"): "Grace Blessing Abena Amara Chipo Fatuma Ngozi",
    ("south_asian", "male"): "Imran Asif Zahid Kamran Amir Raj Sanjay Vikram Harpreet Faisal Tariq",
    ("south_asian", "female"): "Samina Nazia Priya Asha Farah Shabana Sunita",
    ("bangladeshi", "male"): "Abdul Shahid Mohammed Rahim Jamal Nazrul Shafiq",
    ("bangladeshi", "female"): "Rokeya Shirin Nasima Taslima Rumana",
    ("arab", "male"): "Omar Khalid Ahmed Hassan Karim Walid",
    ("arab", "female"): "Layla Noor Rania Huda Samira",
}
FAMILY_NAMES = {
    "british": (
        "Smith Jones Taylor Brown Williams Wilson Johnson Davies Robinson Wright Thompson Evans Walker White "
        "Roberts Green Hall Wood Jackson Clarke Harris Lewis Turner Hill Cooper Ward Morris King Baker Harrison "
        "Mitchell Carter Phillips Palmer Barnes Knight Webb Bennett Lloyd Marsh Fletcher Dixon Hunt Pearce"
    ),
    "irish": "Murphy Kelly O'Brien Byrne Ryan O'Connor Doyle McCarthy Quinn Gallagher Maughan Ward Connors",
    "eastern_european": (
        "Kowalski Nowak Wisniewski Popescu Ionescu Kazlauskas Petrov Novak Horvath Dvorak Lewandowski Stan"
    ),
    "caribbean": "Campbell Francis Thomas Grant Henry Brown Clarke Samuels Richards Morgan Bailey",
    "african": "Okafor Mensah Adeyemi Mwangi Osei Abdullahi Moyo Banda Nwosu Diallo",
    "south_asian": "Khan Hussain Ahmed Patel Singh Akhtar Iqbal Sharma Mahmood Malik Rashid",
    "bangladeshi": "Miah Uddin Rahman Begum Islam Ali Choudhury",
    "arab": "Haddad Nasser Saleh Mansour Farouk Aziz",
}
# Who may want an interpreter, and in which language.
LANGUAGES = {
    "eastern_european": ("Polish", "Romanian", "Lithuanian", "Bulgarian"),
    "bangladeshi": ("Bengali (Sylheti)",),
    "arab": ("Arabic",),
    "african": ("Somali", "Tigrinya"),
    "south_asian": ("Urdu", "Punjabi"),
}

# Probation offices by county, with the postcode districts they cover.
OFFICES = {
    "Bedfordshire": (("Bedford probation office", "MK40 MK41 MK42"), ("Luton probation office", "LU1 LU2 LU4")),
    "Cambridgeshire": (
        ("Cambridge probation office", "CB1 CB2 CB4"),
        ("Peterborough probation office", "PE1 PE2 PE3"),
        ("Huntingdon probation office", "PE29"),
    ),
    "Hertfordshire": (
        ("Stevenage probation office", "SG1 SG2"),
        ("Watford probation office", "WD17 WD18 WD24"),
        ("Hemel Hempstead probation office", "HP1 HP2"),
    ),
    "Northamptonshire": (
        ("Northampton probation office", "NN1 NN3 NN5"),
        ("Kettering probation office", "NN15 NN16"),
        ("Wellingborough probation office", "NN8"),
    ),
}


@dataclass(frozen=True)
class DemoPerson:
    crn: str
    prison_number: str | None
    given_name: str
    family_name: str
    date_of_birth: date
    gender: str
    ethnicity: str
    disability: str
    interpreter_language: str | None

    def fields(self) -> dict[str, object]:
        return {
            "crn": self.crn,
            "prison_number": self.prison_number or "",
            "given_name": self.given_name,
            "family_name": self.family_name,
            "date_of_birth": self.date_of_birth,
            "gender": self.gender,
            "ethnicity": self.ethnicity,
            "disability": self.disability,
            "interpreter_language": self.interpreter_language or "",
        }


class PeopleMaker:
    """Makes distinct people: no CRN or prison number is given twice."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.crns: set[str] = set()
        self.prison_numbers: set[str] = set()

    def _crn(self) -> str:
        while True:
            crn = f"X{self.rng.randint(100000, 999999)}"
            if crn not in self.crns:
                self.crns.add(crn)
                return crn

    def _prison_number(self) -> str:
        letters = string.ascii_uppercase
        while True:
            number = f"A{self.rng.randint(1000, 9999)}{self.rng.choice(letters)}{self.rng.choice(letters)}"
            if number not in self.prison_numbers:
                self.prison_numbers.add(number)
                return number

    def person(self, *, gender: str, in_custody: bool, today: date) -> DemoPerson:
        rng = self.rng
        codes, weights, pools = zip(*ETHNICITY_WEIGHTS, strict=True)
        index = rng.choices(range(len(codes)), weights=weights)[0]
        ethnicity, pool = codes[index], pools[index]
        name_gender = gender if gender in ("male", "female") else rng.choice(("male", "female"))
        given = rng.choice(GIVEN_NAMES[(pool, name_gender)].split())
        family = rng.choice(FAMILY_NAMES[pool].split())
        # Ages 18 to 64, most in their twenties and thirties.
        age = min(64, 18 + int(rng.gammavariate(2.2, 7.5)))
        born = date(today.year - age - 1, 1, 1).toordinal() + rng.randint(0, 364)
        language = None
        if pool in LANGUAGES and rng.random() < 0.35:
            language = rng.choice(LANGUAGES[pool])
        disability = rng.choices(("yes", "no", "not_stated"), weights=(22, 66, 12))[0]
        # A prison number stays with a person after release, so some community cases have one.
        has_number = in_custody or rng.random() < 0.35
        return DemoPerson(
            crn=self._crn(),
            prison_number=self._prison_number() if has_number else None,
            given_name=given,
            family_name=family,
            date_of_birth=date.fromordinal(born),
            gender=gender,
            ethnicity=ethnicity,
            disability=disability,
            interpreter_language=language,
        )


def office_and_postcode(rng: random.Random, counties: tuple[str, ...] | list[str], offices: tuple[str, ...] = ()):
    """A probation office in one of `counties` (or one of `offices`, by name) and a postcode it covers."""
    choices = [office for county in counties for office in OFFICES.get(county, ())]
    if offices:
        choices = [office for office in choices if office[0] in offices] or choices
    name, districts = rng.choice(choices)
    district = rng.choice(districts.split())
    unit = f"{rng.randint(1, 9)}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}"
    return name, f"{district} {unit}"


def phone(rng: random.Random) -> str:
    return f"07700 900{rng.randint(0, 999):03d}"
