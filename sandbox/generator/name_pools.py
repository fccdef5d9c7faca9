"""Given names and surnames by culture, as they appear in North American and European CRMs.

Plain data. Each culture has male and female given names and surnames; ``FEMININE_SURNAME``
lists the surname endings that change for women in Slavic languages. Spelling is the common
romanised form; diacritics are kept where people write them (the generator sometimes drops them
the way forms and imports do).
"""

from __future__ import annotations

from typing import Final

Pool = tuple[str, ...]

# fmt: off

ANGLO_MALE: Final[Pool] = (
    "James", "John", "Robert", "Michael", "William", "David", "Richard", "Joseph", "Thomas",
    "Charles", "Christopher", "Daniel", "Matthew", "Anthony", "Mark", "Steven", "Paul", "Andrew",
    "Joshua", "Kenneth", "Kevin", "Brian", "George", "Timothy", "Ronald", "Edward", "Jason",
    "Jeffrey", "Ryan", "Jacob", "Gary", "Nicholas", "Eric", "Jonathan", "Stephen", "Lawrence",
    "Justin", "Scott", "Brandon", "Benjamin", "Samuel", "Gregory", "Alexander", "Patrick", "Frank",
    "Raymond", "Dennis", "Gerald", "Tyler", "Aaron", "Henry", "Douglas", "Peter", "Nathaniel",
    "Zachary", "Kyle", "Walter", "Harold", "Jeremy", "Ethan", "Carl", "Keith", "Roger", "Christian",
    "Terry", "Sean", "Arthur", "Austin", "Noah", "Jesse", "Bryan", "Jordan", "Albert", "Dylan",
    "Bruce", "Gabriel", "Alan", "Logan", "Wayne", "Ralph", "Roy", "Eugene", "Russell", "Mason",
    "Phillip", "Louis", "Owen", "Theodore", "Frederick", "Vincent", "Leonard", "Bradley", "Donald",
)
ANGLO_FEMALE: Final[Pool] = (
    "Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica", "Sarah",
    "Karen", "Lisa", "Nancy", "Margaret", "Sandra", "Ashley", "Kimberly", "Emily", "Donna",
    "Michelle", "Carol", "Amanda", "Dorothy", "Melissa", "Deborah", "Stephanie", "Rebecca",
    "Sharon", "Laura", "Cynthia", "Kathleen", "Amy", "Angela", "Shirley", "Anna", "Brenda",
    "Pamela", "Emma", "Nicole", "Helen", "Samantha", "Katherine", "Christine", "Rachel", "Carolyn",
    "Janet", "Catherine", "Heather", "Diane", "Ruth", "Julie", "Olivia", "Joyce", "Virginia",
    "Victoria", "Kelly", "Lauren", "Christina", "Joan", "Evelyn", "Judith", "Megan", "Andrea",
    "Cheryl", "Hannah", "Jacqueline", "Martha", "Gloria", "Teresa", "Madison", "Frances",
    "Kathryn", "Janice", "Abigail", "Alice", "Sophia", "Grace", "Denise", "Amber", "Marilyn",
    "Danielle", "Beverly", "Isabella", "Theresa", "Diana", "Natalie", "Brittany", "Charlotte",
    "Kayla", "Alexis", "Lori", "Alexandra", "Caroline", "Madeline", "Allison", "Tiffany",
)
ANGLO_LAST: Final[Pool] = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson",
    "Taylor", "Thomas", "Moore", "Jackson", "Martin", "Lee", "Thompson", "White", "Harris",
    "Clark", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Hill",
    "Green", "Adams", "Baker", "Nelson", "Carter", "Mitchell", "Roberts", "Turner", "Phillips",
    "Campbell", "Parker", "Evans", "Edwards", "Collins", "Stewart", "Morris", "Cook", "Rogers",
    "Morgan", "Cooper", "Peterson", "Bailey", "Reed", "Howard", "Cox", "Ward", "Richardson",
    "Watson", "Brooks", "Wood", "James", "Bennett", "Gray", "Hughes", "Price", "Sanders", "Myers",
    "Long", "Ross", "Foster", "Powell", "Jenkins", "Perry", "Russell", "Bell", "Coleman", "Butler",
    "Henderson", "Barnes", "Fisher", "Henry", "Graham", "Hamilton", "Wallace", "Fleming", "Hayes",
    "Ellis", "Harrison", "Gibson", "Marshall", "Owens", "Wells", "Webb", "Stone", "Hawkins",
    "Dunn", "Palmer", "Hunt", "Holmes", "Knight", "Lawson", "Shaw", "Ford", "Whitfield", "Ashby",
)
IRISH_MALE: Final[Pool] = (
    "Sean", "Ciaran", "Declan", "Eoin", "Padraig", "Kieran", "Connor", "Brendan", "Eamon",
    "Cormac", "Ronan", "Liam", "Fergus", "Callum", "Angus", "Malcolm",
)
IRISH_FEMALE: Final[Pool] = (
    "Siobhan", "Niamh", "Aoife", "Fiona", "Maeve", "Orla", "Saoirse", "Roisin", "Ciara",
    "Sinead", "Eilidh", "Isla", "Kirsty", "Mairead",
)
IRISH_LAST: Final[Pool] = (
    "O'Brien", "O'Connor", "O'Neill", "O'Sullivan", "O'Reilly", "McDonald", "McCarthy", "MacLeod",
    "McKenzie", "MacDonald", "McGregor", "Murphy", "Kelly", "Byrne", "Doyle", "Fitzgerald",
    "Gallagher", "Quinn", "Walsh", "Kennedy", "Sullivan", "McLaughlin", "MacKinnon", "Cameron",
    "Fraser", "Buchanan",
)
HISPANIC_MALE: Final[Pool] = (
    "José", "Juan", "Luis", "Carlos", "Jorge", "Miguel", "Alejandro", "Francisco", "Javier",
    "Diego", "Fernando", "Ricardo", "Manuel", "Antonio", "Rafael", "Andrés", "Sergio", "Pablo",
    "Eduardo", "Roberto", "Enrique", "Ignacio", "Raúl", "Óscar", "Héctor", "Mateo", "Santiago",
)
HISPANIC_FEMALE: Final[Pool] = (
    "María", "Ana", "Sofía", "Lucía", "Carmen", "Isabel", "Valentina", "Camila", "Gabriela",
    "Daniela", "Paula", "Elena", "Rosa", "Guadalupe", "Mariana", "Verónica", "Adriana", "Claudia",
    "Patricia", "Alejandra", "Natalia", "Inés", "Beatriz", "Ximena", "Marisol",
)
HISPANIC_LAST: Final[Pool] = (
    "García", "Rodríguez", "Martínez", "Hernández", "López", "González", "Pérez", "Sánchez",
    "Ramírez", "Torres", "Flores", "Rivera", "Gómez", "Díaz", "Cruz", "Morales", "Reyes",
    "Gutiérrez", "Ortiz", "Ramos", "Castillo", "Jiménez", "Vargas", "Romero", "Mendoza", "Ruiz",
    "Álvarez", "Castro", "Vásquez", "Núñez", "de la Cruz", "del Rosario", "de León",
    "Fernández", "Moreno", "Herrera", "Medina", "Aguilar", "Navarro", "Domínguez",
)
CHINESE_GIVEN: Final[Pool] = (
    "Wei", "Jing", "Li", "Ming", "Hui", "Xiaoming", "Yan", "Lei", "Jun", "Fang", "Xin", "Hao",
    "Yu", "Mei", "Ling", "Jie", "Qiang", "Yong", "Lan", "Tao", "Xiu", "Zhen", "Bo", "Ying",
)
CHINESE_LAST: Final[Pool] = (
    "Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou", "Xu", "Sun",
    "Ma", "Zhu", "Hu", "Guo", "He", "Lin", "Gao", "Luo", "Cheng", "Tang", "Feng", "Deng",
)
KOREAN_GIVEN: Final[Pool] = (
    "Min-jun", "Seo-yeon", "Ji-ho", "Ji-woo", "Hyun-woo", "Soo-jin", "Jae-won", "Eun-ji",
    "Dong-hyun", "Ha-eun", "Sung-min", "Yoo-jin",
)
KOREAN_LAST: Final[Pool] = (
    "Kim", "Lee", "Park", "Choi", "Jung", "Kang", "Cho", "Yoon", "Jang", "Lim",
)
JAPANESE_MALE: Final[Pool] = (
    "Haruto", "Yuto", "Sota", "Ren", "Takeshi", "Kenji", "Hiroshi", "Daisuke", "Kazuki", "Satoshi",
)
JAPANESE_FEMALE: Final[Pool] = (
    "Yui", "Hina", "Aoi", "Yuki", "Naoko", "Akiko", "Keiko", "Sakura", "Emi", "Haruka",
)
JAPANESE_LAST: Final[Pool] = (
    "Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura",
    "Kobayashi", "Kato", "Yoshida", "Yamada", "Matsumoto", "Inoue",
)
VIETNAMESE_GIVEN: Final[Pool] = (
    "Minh", "Anh", "Linh", "Huong", "Tuan", "Thanh", "Hoa", "Duc", "Quang", "Thao", "Hieu", "Trang",
)
VIETNAMESE_LAST: Final[Pool] = (
    "Nguyen", "Tran", "Le", "Pham", "Hoang", "Phan", "Vu", "Dang", "Bui", "Do", "Ngo", "Duong",
)
SOUTH_ASIAN_MALE: Final[Pool] = (
    "Aarav", "Vivaan", "Aditya", "Arjun", "Rohan", "Rahul", "Vikram", "Sanjay", "Anil", "Rajesh",
    "Suresh", "Amit", "Deepak", "Karan", "Nikhil", "Pranav", "Imran", "Faisal", "Harpreet",
    "Gurpreet", "Venkat", "Srinivas", "Ashok", "Manoj",
)
SOUTH_ASIAN_FEMALE: Final[Pool] = (
    "Priya", "Ananya", "Aisha", "Divya", "Kavya", "Neha", "Pooja", "Riya", "Sneha", "Lakshmi",
    "Meera", "Anjali", "Shreya", "Sunita", "Fatima", "Ayesha", "Zara", "Deepika", "Swati",
    "Nandini",
)
SOUTH_ASIAN_LAST: Final[Pool] = (
    "Patel", "Sharma", "Singh", "Kumar", "Gupta", "Shah", "Mehta", "Reddy", "Iyer", "Nair", "Rao",
    "Desai", "Joshi", "Chopra", "Malhotra", "Kapoor", "Agarwal", "Banerjee", "Chatterjee",
    "Mukherjee", "Khan", "Ahmed", "Hussain", "Qureshi", "Siddiqui", "Krishnan", "Venkatesan",
    "Subramanian", "Pillai", "Menon", "Choudhury", "Bhatt",
)
SLAVIC_MALE: Final[Pool] = (
    "Aleksandr", "Dmitri", "Sergei", "Andrei", "Ivan", "Mikhail", "Nikolai", "Pavel", "Vladimir",
    "Yuri", "Oleksandr", "Taras", "Piotr", "Tomasz", "Krzysztof", "Łukasz", "Marek", "Jakub",
    "Wojciech", "Tomáš", "Petr", "Bogdan",
)
SLAVIC_FEMALE: Final[Pool] = (
    "Olga", "Natalia", "Tatiana", "Svetlana", "Irina", "Elena", "Anastasia", "Ekaterina", "Yulia",
    "Oksana", "Agnieszka", "Katarzyna", "Magdalena", "Zofia", "Małgorzata", "Ewa", "Daria",
)
SLAVIC_LAST: Final[Pool] = (
    "Ivanov", "Smirnov", "Kuznetsov", "Popov", "Sokolov", "Lebedev", "Kozlov", "Novikov",
    "Morozov", "Volkov", "Petrov", "Shevchenko", "Kovalenko", "Bondarenko", "Kowalski", "Nowak",
    "Wiśniewski", "Wójcik", "Kowalczyk", "Kamiński", "Lewandowski", "Zieliński", "Novák",
    "Dvořák", "Horváth", "Sadowski", "Pavlov",
)
GERMANIC_MALE: Final[Pool] = (
    "Lukas", "Maximilian", "Felix", "Jonas", "Leon", "Tobias", "Stefan", "Andreas", "Markus",
    "Jürgen", "Klaus", "Wolfgang", "Johannes", "Friedrich", "Jan", "Pieter", "Daan", "Bram",
    "Joost", "Matthias", "Florian", "Sebastian",
)
GERMANIC_FEMALE: Final[Pool] = (
    "Lena", "Laura", "Julia", "Katharina", "Sabine", "Petra", "Ursula", "Monika", "Annika",
    "Sophie", "Hannah", "Birgit", "Sanne", "Femke", "Lotte", "Anouk", "Greta", "Heike",
)
GERMANIC_LAST: Final[Pool] = (
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
    "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann",
    "Schwarz", "Zimmermann", "Braun", "Krüger", "Hartmann", "Lange", "Werner", "Krause",
    "van der Berg", "van den Berg", "de Jong", "Jansen", "de Vries", "van Dijk", "Bakker",
    "Visser", "de Boer", "Mulder", "de Groot", "van Leeuwen", "Dekker", "van der Meer",
    "von Stein", "Vogel",
)
FRENCH_MALE: Final[Pool] = (
    "Jean", "Pierre", "Louis", "Hugo", "Lucas", "Arthur", "Jules", "Mathieu", "Nicolas", "Julien",
    "Antoine", "François", "Étienne", "Luc", "Jean-Pierre", "Jean-Luc", "Olivier", "Thierry",
)
FRENCH_FEMALE: Final[Pool] = (
    "Marie", "Camille", "Léa", "Chloé", "Manon", "Inès", "Juliette", "Claire", "Sophie", "Céline",
    "Amélie", "Élodie", "Margaux", "Anne", "Isabelle", "Marie-Claire", "Anne-Sophie",
    "Marie-Hélène", "Nathalie",
)
FRENCH_LAST: Final[Pool] = (
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
    "Moreau", "Simon", "Laurent", "Lefebvre", "Michel", "David", "Bertrand", "Roux", "Vincent",
    "Fournier", "Morel", "Girard", "André", "Lefèvre", "Mercier", "Dupont", "Lambert", "Bonnet",
    "Le Gall", "de la Fontaine", "Rousseau", "Gauthier", "Chevalier",
)
ITALIAN_MALE: Final[Pool] = (
    "Marco", "Giuseppe", "Luca", "Giovanni", "Francesco", "Alessandro", "Matteo", "Lorenzo",
    "Stefano", "Davide", "Riccardo",
)
ITALIAN_FEMALE: Final[Pool] = (
    "Giulia", "Francesca", "Chiara", "Sara", "Alessia", "Martina", "Elena", "Federica", "Silvia",
)
ITALIAN_LAST: Final[Pool] = (
    "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino",
    "Greco", "Bruno", "De Luca", "D'Angelo", "Lombardi", "Moretti", "Conti", "DiMaggio",
    "Costa", "Fontana", "Caruso",
)
ARABIC_MALE: Final[Pool] = (
    "Mohammed", "Ahmed", "Ali", "Omar", "Hassan", "Youssef", "Khalid", "Tariq", "Karim", "Samir",
)
ARABIC_FEMALE: Final[Pool] = (
    "Fatima", "Layla", "Nour", "Yasmin", "Mariam", "Hana", "Salma", "Rania", "Leila", "Dina",
)
ARABIC_LAST: Final[Pool] = (
    "Al-Sayed", "Haddad", "Khoury", "Nasser", "Mansour", "Saleh", "Hamdan", "Aziz", "El-Amin",
    "Abdullah", "Rahman", "Farouk", "Benali", "Bouzid", "El Idrissi",
)
TURKISH_MALE: Final[Pool] = ("Mehmet", "Mustafa", "Emre", "Burak", "Can", "Murat", "Cem", "Ömer")
TURKISH_FEMALE: Final[Pool] = ("Ayşe", "Elif", "Zeynep", "Emine", "Selin", "Derya", "Büşra")
TURKISH_LAST: Final[Pool] = (
    "Yılmaz", "Kaya", "Demir", "Şahin", "Çelik", "Yıldız", "Öztürk", "Aydın", "Arslan", "Doğan",
)
AFRICAN_MALE: Final[Pool] = (
    "Chinedu", "Oluwaseun", "Adebayo", "Emeka", "Tunde", "Kwame", "Kofi", "Jomo", "Sipho", "Thabo",
)
AFRICAN_FEMALE: Final[Pool] = (
    "Ngozi", "Chiamaka", "Folake", "Amara", "Abena", "Ama", "Wanjiru", "Nomvula", "Zanele",
    "Adaeze",
)
AFRICAN_LAST: Final[Pool] = (
    "Okafor", "Adeyemi", "Okonkwo", "Balogun", "Eze", "Nwosu", "Mensah", "Osei", "Boateng",
    "Kamau", "Otieno", "Mwangi", "Ndlovu", "Dlamini", "Asante",
)

# culture -> (male given names, female given names, surnames)
CULTURES: Final[dict[str, tuple[Pool, Pool, Pool]]] = {
    "anglo": (ANGLO_MALE, ANGLO_FEMALE, ANGLO_LAST),
    "irish": (IRISH_MALE, IRISH_FEMALE, IRISH_LAST),
    "hispanic": (HISPANIC_MALE, HISPANIC_FEMALE, HISPANIC_LAST),
    "chinese": (CHINESE_GIVEN, CHINESE_GIVEN, CHINESE_LAST),
    "korean": (KOREAN_GIVEN, KOREAN_GIVEN, KOREAN_LAST),
    "japanese": (JAPANESE_MALE, JAPANESE_FEMALE, JAPANESE_LAST),
    "vietnamese": (VIETNAMESE_GIVEN, VIETNAMESE_GIVEN, VIETNAMESE_LAST),
    "south_asian": (SOUTH_ASIAN_MALE, SOUTH_ASIAN_FEMALE, SOUTH_ASIAN_LAST),
    "slavic": (SLAVIC_MALE, SLAVIC_FEMALE, SLAVIC_LAST),
    "germanic": (GERMANIC_MALE, GERMANIC_FEMALE, GERMANIC_LAST),
    "french": (FRENCH_MALE, FRENCH_FEMALE, FRENCH_LAST),
    "italian": (ITALIAN_MALE, ITALIAN_FEMALE, ITALIAN_LAST),
    "arabic": (ARABIC_MALE, ARABIC_FEMALE, ARABIC_LAST),
    "turkish": (TURKISH_MALE, TURKISH_FEMALE, TURKISH_LAST),
    "african": (AFRICAN_MALE, AFRICAN_FEMALE, AFRICAN_LAST),
}

# Cultures whose people often go by an English given name in an English-speaking office.
ANGLICISED_GIVEN: Final[tuple[str, ...]] = ("chinese", "korean", "vietnamese")

# Culture mix per country (weights).
CULTURE_MIX: Final[dict[str, dict[str, int]]] = {
    "US": {
        "anglo": 44, "irish": 5, "hispanic": 17, "chinese": 4, "korean": 2, "japanese": 1,
        "vietnamese": 2, "south_asian": 8, "slavic": 3, "germanic": 2, "french": 1, "italian": 4,
        "arabic": 2, "turkish": 1, "african": 4,
    },
    "CA": {
        "anglo": 38, "irish": 6, "french": 14, "chinese": 8, "south_asian": 10, "korean": 2,
        "vietnamese": 2, "hispanic": 4, "slavic": 4, "italian": 4, "arabic": 3, "african": 3,
        "germanic": 2,
    },
    "GB": {
        "anglo": 52, "irish": 10, "south_asian": 14, "chinese": 3, "african": 6, "slavic": 5,
        "italian": 3, "arabic": 3, "french": 2, "turkish": 2,
    },
    "DE": {
        "germanic": 64, "slavic": 10, "turkish": 10, "italian": 5, "arabic": 4, "anglo": 4,
        "french": 1, "african": 2,
    },
    "FR": {
        "french": 68, "arabic": 12, "african": 7, "italian": 5, "hispanic": 4, "anglo": 2,
        "vietnamese": 2,
    },
}

# Slavic surname endings that take a feminine form (Ivanov -> Ivanova, Kowalski -> Kowalska).
FEMININE_SURNAME: Final[tuple[tuple[str, str], ...]] = (
    ("ski", "ska"), ("cki", "cka"), ("ov", "ova"), ("ev", "eva"), ("in", "ina"),
)

# Common full names: the "John Smith" problem (different people, same name).
COMMON_NAMES: Final[tuple[tuple[str, str], ...]] = (
    ("John", "Smith"), ("Michael", "Johnson"), ("David", "Lee"), ("Maria", "Garcia"),
    ("James", "Brown"), ("Jennifer", "Williams"), ("Wei", "Zhang"), ("Priya", "Patel"),
    ("Robert", "Jones"), ("Sarah", "Miller"), ("Mohammed", "Khan"), ("Jose", "Hernandez"),
    ("Mark", "Taylor"), ("Lisa", "Anderson"), ("Daniel", "Martin"), ("Anna", "Müller"),
    ("Thomas", "Wilson"), ("Emily", "Davis"), ("Kevin", "Nguyen"), ("Laura", "Martinez"),
)
# fmt: on
