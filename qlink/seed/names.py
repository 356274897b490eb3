"""Fictional Indian names and background facts for demo patients (no real people's data).

Given and family names are grouped by language region so a generated name stays plausible; a few
names are written in their own script (Devanagari, Tamil, Bengali) so search, PDFs and the TV
screen meet non-Latin text from day one.
"""

from __future__ import annotations


def _region(*, male: str, female: str, family: str) -> dict[str, tuple[str, ...]]:
    return {
        "male": tuple(male.split()),
        "female": tuple(female.split()),
        "family": tuple(family.split()),
    }


REGIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "hindi": _region(
        male=(
            "Rajesh Amit Sanjay Vikas Rahul Manoj Deepak Arvind Rohit Ankit Suresh Harish Naveen "
            "Kunal Aarav Vivaan"
        ),
        female=(
            "Sunita Pooja Neha Anjali Kiran Rekha Priyanka Suman Shalini Ritu Geeta Meena Aadhya "
            "Ananya Kavya Isha"
        ),
        family=(
            "Sharma Verma Gupta Singh Yadav Mishra Pandey Chauhan Tiwari Agarwal Srivastava "
            "Saxena Rawat Bansal"
        ),
    ),
    "tamil": _region(
        male=(
            "Karthik Senthil Murugan Arun Vignesh Prakash Dinesh Balaji Saravanan Ashwin Madhan "
            "Kathir"
        ),
        female=(
            "Lakshmi Priya Divya Meenakshi Revathi Kavitha Deepa Nithya Sangeetha Janani "
            "Aishwarya Thenmozhi"
        ),
        family=(
            "Subramanian Raman Krishnan Natarajan Venkatesan Pandian Sundaram Rajendran Murthy "
            "Iyengar Selvam Ramasamy"
        ),
    ),
    "bengali": _region(
        male="Sourav Arindam Debashish Subhajit Anirban Partha Tapas Rajat Sayan Abhijit",
        female="Moumita Sudeshna Rupa Tanushree Shreya Paromita Ishita Mousumi Rituparna Debjani",
        family=(
            "Banerjee Chatterjee Mukherjee Das Ghosh Bose Sen Dutta Chakraborty Roy Saha Majumdar"
        ),
    ),
    "marathi": _region(
        male="Sachin Ganesh Mahesh Prasad Omkar Swapnil Nilesh Tushar Aniket Mangesh",
        female="Snehal Ashwini Madhuri Pallavi Vaishali Sayali Rutuja Manasi Shubhangi Gauri",
        family=(
            "Patil Deshmukh Kulkarni Joshi Pawar Jadhav Shinde Gokhale Kale Bhosale Deshpande "
            "Gaikwad"
        ),
    ),
    "telugu_kannada": _region(
        male="Srinivas Venkat Ravi Naresh Kiran Harsha Mahesh Sai Chaitanya Girish",
        female="Sravani Lavanya Swathi Bhavana Padma Anusha Keerthi Shwetha Pavithra Sindhu",
        family="Reddy Rao Naidu Gowda Hegde Shetty Chowdary Varma Kamath Prabhu",
    ),
    "gujarati_punjabi": _region(
        male="Hardik Jignesh Mehul Gurpreet Harpreet Manpreet Nikhil Paresh Jaspreet Bhavesh",
        female="Hetal Komal Nisha Simran Jasleen Harleen Bhavna Falguni Mansi Navneet",
        family="Patel Shah Desai Mehta Gill Sandhu Dhillon Bhatt Parikh Grewal",
    ),
    "malayalam": _region(
        male="Anoop Sreejith Vishnu Jithin Rajeev Biju Arjun Midhun",
        female="Anju Reshma Sreelakshmi Athira Neethu Soumya Aswathy Lekha",
        family="Nair Menon Pillai Kurian Thomas Varghese Panicker Nambiar",
    ),
}

# Population share of each region among demo patients (an urban north-Indian clinic).
REGION_WEIGHTS: dict[str, int] = {
    "hindi": 40,
    "marathi": 12,
    "bengali": 10,
    "tamil": 12,
    "telugu_kannada": 10,
    "gujarati_punjabi": 10,
    "malayalam": 6,
}

# (full name in its own script, gender, language); every 40th demo patient takes one of these.
SCRIPT_NAMES: tuple[tuple[str, str, str], ...] = (
    ("राजेश कुमार", "male", "hi"),
    ("सुनीता देवी", "female", "hi"),
    ("முருகன் செல்வம்", "male", "ta"),
    ("অমিত দাস", "male", "bn"),
    ("अनीता शर्मा", "female", "hi"),
    ("லட்சுமி ராமன்", "female", "ta"),
    ("দেবাশীষ চক্রবর্তী", "male", "bn"),
    ("সুপ্রিয়া ঘোষ", "female", "bn"),
    ("गणेश पाटील", "male", "mr"),
    ("प्रिया कुलकर्णी", "female", "mr"),
)

ALLERGIES: tuple[tuple[str, str, str], ...] = (  # substance, reaction, severity
    ("Penicillin", "Rash and itching", "moderate"),
    ("Sulfonamides", "Skin rash", "moderate"),
    ("Aspirin", "Wheezing", "severe"),
    ("Ibuprofen", "Gastric irritation", "mild"),
    ("Peanuts", "Swelling of lips", "severe"),
    ("Dust mites", "Sneezing", "mild"),
    ("Latex", "Contact dermatitis", "mild"),
    ("Shellfish", "Hives", "moderate"),
)

CONDITIONS: tuple[tuple[str, str], ...] = (  # name, ICD-10
    ("Type 2 diabetes mellitus", "E11.9"),
    ("Essential hypertension", "I10"),
    ("Bronchial asthma", "J45.9"),
    ("Hypothyroidism", "E03.9"),
    ("Dyslipidaemia", "E78.5"),
    ("Osteoarthritis of knee", "M17.9"),
    ("Iron deficiency anaemia", "D50.9"),
)

BLOOD_GROUPS: tuple[tuple[str, int], ...] = (  # group, weight (rough Indian distribution)
    ("B+", 32),
    ("O+", 30),
    ("A+", 22),
    ("AB+", 8),
    ("O-", 3),
    ("B-", 2),
    ("A-", 2),
    ("AB-", 1),
)

LOCALITIES: tuple[str, ...] = (
    "Sector 14, Gurugram",
    "Karol Bagh, New Delhi",
    "Andheri East, Mumbai",
    "Salt Lake, Kolkata",
    "T. Nagar, Chennai",
    "Koramangala, Bengaluru",
    "Kothrud, Pune",
    "Banjara Hills, Hyderabad",
    "Navrangpura, Ahmedabad",
    "Model Town, Ludhiana",
    "Kakkanad, Kochi",
    "Gomti Nagar, Lucknow",
)

# Demo-only phone block: every generated number is +91 99999 0NNNN (fictional, not assigned to
# anyone we know of; never use it for real messaging).
FAKE_MOBILE_PREFIX = "+9199999"
