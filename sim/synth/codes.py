"""Curated reference data for the synthetic federation.

Real HS6 / HTSUS codes with plausible prices and weights, the trading countries
and their currencies, airlines with their IATA air waybill prefixes, US gateway
airports with their CBP port codes, and the word pools names are built from.
Exchange rates are fixed (units of the currency per US dollar) so that output
never depends on the day it was generated.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "BRANDS",
    "CITY_STREETS",
    "COUNTRIES",
    "DECOY_HS6",
    "FIRST_NAMES",
    "FX_PER_USD",
    "GATEWAYS",
    "HS_CODES",
    "LAST_NAMES",
    "MANUFACTURER_TRADES",
    "MANUFACTURER_WORDS",
    "REGIONS",
    "SELLER_TRADES",
    "SELLER_WORDS",
    "STREET_NAMES",
    "STREET_SUFFIXES",
    "US_CITIES",
    "Airline",
    "Country",
    "Gateway",
    "HsCode",
]


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


@dataclass(frozen=True)
class HsCode:
    """One product kind: its customs codes, wording, price and weight per unit."""

    hs6: str
    hts10: str
    description: str
    noun: str
    category: str
    price_usd: tuple[float, float]
    weight_kg: tuple[float, float]
    needs_certificate: bool = False

    @property
    def chapter(self) -> str:
        return self.hs6[:2]


def _hs(
    hts: str, description: str, noun: str, category: str, price: tuple[float, float],
    weight: tuple[float, float], certificate: bool = False,
) -> HsCode:
    digits = hts.replace(".", "")
    return HsCode(digits[:6], digits, description, noun, category, price, weight, certificate)


HS_CODES: tuple[HsCode, ...] = (
    _hs("2106.90.9998", "Food preparations, protein powder", "Whey Protein Powder 2lb",
        "Health", (18, 70), (0.9, 1.1)),
    _hs("2404.12.0000", "Nicotine liquids for electronic cigarettes", "Vape E-Liquid 30ml",
        "Vaping", (6, 25), (0.05, 0.1)),
    _hs("3004.90.9290", "Medicaments, packaged for retail sale", "Pain Relief Patches 20ct",
        "Health", (8, 40), (0.05, 0.2)),
    _hs("3303.00.3000", "Perfumes and toilet waters", "Eau de Parfum 50ml", "Beauty",
        (15, 120), (0.15, 0.4)),
    _hs("3304.20.0000", "Eye make-up preparations", "Eyeshadow Palette", "Beauty",
        (5, 45), (0.05, 0.25)),
    _hs("3304.99.5000", "Beauty or skin-care preparations", "Vitamin C Face Serum", "Beauty",
        (6, 80), (0.05, 0.2)),
    _hs("3305.10.0000", "Shampoos", "Argan Oil Shampoo 500ml", "Beauty", (4, 30), (0.3, 0.6)),
    _hs("3924.10.4000", "Tableware and kitchenware of plastics", "Food Storage Container Set",
        "Home", (5, 35), (0.3, 1.2)),
    _hs("3926.90.9985", "Other articles of plastics", "Adjustable Phone Stand", "Accessories",
        (2, 25), (0.05, 0.3)),
    _hs("4011.10.1050", "New pneumatic radial tyres for motor cars", "All-Season Radial Tire",
        "Automotive", (50, 250), (8.0, 12.0)),
    _hs("4202.21.9000", "Handbags with outer surface of leather", "Leather Crossbody Handbag",
        "Bags", (30, 900), (0.4, 1.2)),
    _hs("4202.22.8050", "Handbags with outer surface of textile materials", "Canvas Tote Bag",
        "Bags", (8, 60), (0.2, 0.6)),
    _hs("4202.31.6000", "Wallets of leather", "RFID Leather Wallet", "Bags", (10, 150),
        (0.05, 0.2)),
    _hs("4421.99.9880", "Other articles of wood", "Bamboo Cutting Board", "Home", (8, 45),
        (0.5, 1.5)),
    _hs("4820.10.2060", "Notebooks and diaries", "Hardcover Dotted Notebook", "Stationery",
        (4, 25), (0.2, 0.5)),
    _hs("4901.99.0070", "Printed books", "Paperback Novel", "Books", (5, 40), (0.2, 0.8)),
    _hs("4911.91.4040", "Printed pictures and photographs", "Art Print Poster", "Books",
        (5, 60), (0.1, 0.4)),
    _hs("6104.62.2006", "Women's trousers of cotton, knitted", "Women's Cotton Joggers",
        "Apparel", (12, 55), (0.25, 0.5)),
    _hs("6109.10.0012", "T-shirts of cotton, knitted", "Men's Cotton Crew T-Shirt",
        "Apparel", (5, 35), (0.15, 0.3)),
    _hs("6110.20.2079", "Sweaters and pullovers of cotton, knitted", "Cotton Pullover Sweater",
        "Apparel", (15, 70), (0.35, 0.7)),
    _hs("6110.30.3059", "Sweaters and pullovers of man-made fibres, knitted", "Fleece Pullover",
        "Apparel", (12, 60), (0.3, 0.6)),
    _hs("6111.20.6070", "Babies' garments of cotton, knitted", "Organic Cotton Baby Romper",
        "Apparel", (8, 35), (0.1, 0.25), certificate=True),
    _hs("6115.95.9000", "Socks of cotton, knitted", "Cotton Crew Socks 6-Pack", "Apparel",
        (4, 20), (0.2, 0.4)),
    _hs("6203.42.4011", "Men's trousers of cotton, blue denim", "Men's Slim Fit Jeans",
        "Apparel", (15, 90), (0.5, 0.9)),
    _hs("6204.43.4040", "Women's dresses of synthetic fibres", "Chiffon Maxi Dress",
        "Apparel", (15, 120), (0.2, 0.5)),
    _hs("6204.62.4011", "Women's trousers of cotton, blue denim", "Women's High Rise Jeans",
        "Apparel", (15, 90), (0.4, 0.8)),
    _hs("6205.20.2016", "Men's shirts of cotton", "Men's Oxford Shirt", "Apparel",
        (12, 70), (0.25, 0.45)),
    _hs("6214.20.0000", "Shawls and scarves of wool", "Merino Wool Scarf", "Apparel",
        (12, 90), (0.1, 0.3)),
    _hs("6302.31.9020", "Bed linen of cotton", "Cotton Duvet Cover Set", "Home", (25, 150),
        (1.0, 2.5)),
    _hs("6402.99.3165", "Footwear with outer soles and uppers of rubber or plastics",
        "EVA Slide Sandals", "Footwear", (6, 35), (0.3, 0.7)),
    _hs("6403.99.9065", "Footwear with uppers of leather", "Leather Chelsea Boots",
        "Footwear", (40, 250), (1.0, 1.8)),
    _hs("6404.11.9020", "Sports footwear with uppers of textile materials",
        "Mesh Running Shoes", "Footwear", (20, 160), (0.6, 1.1)),
    _hs("6505.00.6090", "Hats, knitted or crocheted", "Knit Beanie", "Apparel", (5, 30),
        (0.05, 0.15)),
    _hs("6704.20.0000", "Wigs of human hair", "Human Hair Lace Front Wig", "Beauty",
        (40, 400), (0.2, 0.5)),
    _hs("6911.10.8010", "Tableware of porcelain", "Porcelain Dinner Set 16pc", "Home",
        (30, 180), (4.0, 8.0)),
    _hs("7113.11.5000", "Jewellery of silver", "Sterling Silver Pendant Necklace",
        "Jewellery", (20, 300), (0.02, 0.1)),
    _hs("7113.19.5090", "Jewellery of gold", "14K Gold Band Ring", "Jewellery", (80, 2500),
        (0.01, 0.05)),
    _hs("7117.19.9000", "Imitation jewellery of base metal", "Fashion Hoop Earrings",
        "Jewellery", (2, 30), (0.01, 0.08)),
    _hs("7323.93.0080", "Table and kitchen articles of stainless steel",
        "Stainless Steel Cookware Set", "Home", (30, 250), (3.0, 7.0)),
    _hs("8211.91.8060", "Table knives with fixed blades", "Steak Knife Set 6pc", "Home",
        (15, 90), (0.5, 1.2)),
    _hs("8414.59.6590", "Fans", "USB Desk Fan", "Home", (10, 60), (0.4, 1.5)),
    _hs("8467.29.0090", "Electromechanical tools for working in the hand", "Cordless Drill Kit",
        "Tools", (35, 220), (1.5, 3.0)),
    _hs("8471.30.0100", "Portable automatic data processing machines", "14-inch Laptop 16GB",
        "Computers", (250, 1800), (1.2, 2.2)),
    _hs("8471.60.9050", "Input or output units", "Mechanical Gaming Keyboard", "Computers",
        (25, 180), (0.7, 1.3)),
    _hs("8473.30.5100", "Parts and accessories of computers", "Laptop Replacement Battery",
        "Computers", (20, 120), (0.2, 0.5)),
    _hs("8504.40.9580", "Static converters", "65W USB-C GaN Charger", "Electronics",
        (8, 60), (0.1, 0.25)),
    _hs("8507.60.0020", "Lithium-ion batteries", "20000mAh Power Bank", "Electronics",
        (12, 80), (0.3, 0.5)),
    _hs("8513.10.4000", "Portable electric lamps", "Rechargeable LED Flashlight",
        "Electronics", (8, 50), (0.15, 0.4)),
    _hs("8516.71.0020", "Electro-thermic coffee makers", "Espresso Machine", "Home",
        (60, 600), (3.0, 8.0)),
    _hs("8517.13.0000", "Smartphones", "Unlocked Smartphone 128GB", "Electronics",
        (80, 1000), (0.2, 0.4)),
    _hs("8517.62.0090", "Machines for the reception and transmission of data",
        "Dual-Band Wi-Fi Router", "Electronics", (25, 250), (0.4, 1.0)),
    _hs("8518.30.2000", "Headphones and earphones", "Wireless Earbuds", "Electronics",
        (10, 250), (0.05, 0.3)),
    _hs("8523.51.0000", "Solid-state non-volatile storage devices", "USB 3.2 Flash Drive 128GB",
        "Electronics", (6, 60), (0.01, 0.05)),
    _hs("8528.52.0000", "Monitors for automatic data processing machines", "27-inch IPS Monitor",
        "Computers", (120, 700), (4.0, 7.0)),
    _hs("8708.30.5090", "Brakes and servo-brakes and parts thereof", "Ceramic Brake Pad Set",
        "Automotive", (20, 150), (1.5, 3.5)),
    _hs("8708.99.8180", "Parts and accessories of motor vehicles", "Cold Air Intake Kit",
        "Automotive", (40, 350), (1.5, 4.0)),
    _hs("8712.00.2500", "Bicycles", "Aluminium Road Bicycle", "Sports", (150, 1500),
        (9.0, 14.0)),
    _hs("8714.10.0050", "Parts and accessories of motorcycles", "Motorcycle LED Headlight",
        "Automotive", (25, 200), (0.5, 1.5)),
    _hs("9004.10.0000", "Sunglasses", "Polarized Sunglasses", "Accessories", (8, 250),
        (0.05, 0.15)),
    _hs("9018.19.9560", "Electro-diagnostic apparatus", "Fingertip Pulse Oximeter", "Health",
        (12, 60), (0.05, 0.15)),
    _hs("9102.11.4510", "Wrist-watches, electrically operated, mechanical display",
        "Chronograph Wrist Watch", "Accessories", (20, 600), (0.08, 0.2)),
    _hs("9401.71.0031", "Upholstered seats with metal frames", "Ergonomic Office Chair",
        "Furniture", (80, 500), (12.0, 20.0)),
    _hs("9403.60.8081", "Wooden furniture", "Solid Oak Side Table", "Furniture", (60, 450),
        (6.0, 15.0)),
    _hs("9404.21.0010", "Mattresses of cellular rubber or plastics", "Memory Foam Topper",
        "Furniture", (40, 250), (3.0, 8.0)),
    _hs("9405.42.8440", "LED luminaires and lighting fittings", "LED Desk Lamp", "Home",
        (15, 90), (0.6, 1.5)),
    _hs("9503.00.0090", "Toys, puzzles and scale models", "Building Blocks Set 500pc", "Toys",
        (8, 120), (0.3, 1.5), certificate=True),
    _hs("9504.50.0000", "Video game consoles and machines", "Handheld Retro Game Console",
        "Toys", (30, 450), (0.2, 0.6)),
    _hs("9506.62.4080", "Inflatable balls", "Match Soccer Ball Size 5", "Sports", (10, 80),
        (0.4, 0.5)),
    _hs("9506.91.0030", "Articles and equipment for general physical exercise",
        "Resistance Bands Set", "Sports", (8, 60), (0.3, 1.0)),
    _hs("9603.21.0000", "Toothbrushes", "Bamboo Toothbrush 4-Pack", "Health", (4, 20),
        (0.05, 0.15)),
    _hs("9701.91.0000", "Paintings executed entirely by hand", "Oil Painting on Canvas",
        "Art", (40, 1200), (0.5, 3.0)),
)

# Low-duty codes that misdeclared parcels claim to be (books, plastic articles, linen...).
DECOY_HS6: tuple[str, ...] = ("490199", "491191", "392690", "630231", "482010", "392410")


@dataclass(frozen=True)
class Country:
    """A trading country: where its sellers and manufacturers sit and how they write names."""

    iso2: str
    weight: int
    region: str
    currency: str
    cities: tuple[str, ...]
    name_pattern: str  # "{}" is replaced by the trading name
    gs1_prefix: str
    mid_prefix: str


COUNTRIES: tuple[Country, ...] = (
    Country("CN", 40, "ASIA", "CNY",
            ("Shenzhen", "Guangzhou", "Yiwu", "Dongguan", "Shanghai", "Ningbo", "Hangzhou",
             "Xiamen"), "{} Co., Ltd.", "693", "CN"),
    Country("HK", 8, "ASIA", "HKD", ("Kowloon", "Kwun Tong", "Tsuen Wan", "Sha Tin"),
            "{} Limited", "489", "HK"),
    Country("VN", 6, "ASIA", "VND", ("Ho Chi Minh City", "Hanoi", "Hai Phong", "Da Nang"),
            "{} Company Limited", "893", "VN"),
    Country("KR", 5, "ASIA", "KRW", ("Seoul", "Busan", "Incheon"), "{} Co., Ltd.", "880", "KR"),
    Country("JP", 4, "ASIA", "JPY", ("Tokyo", "Osaka", "Nagoya"), "{} K.K.", "490", "JP"),
    Country("TW", 3, "ASIA", "TWD", ("Taipei", "Taichung", "Kaohsiung"), "{} Co., Ltd.",
            "471", "TW"),
    Country("TH", 2, "ASIA", "THB", ("Bangkok", "Chiang Mai"), "{} Co., Ltd.", "885", "TH"),
    Country("ID", 1, "ASIA", "IDR", ("Jakarta", "Surabaya", "Bandung"), "PT {}", "899", "ID"),
    Country("IN", 5, "SOUTH_ASIA", "INR", ("Mumbai", "New Delhi", "Bengaluru", "Jaipur",
                                           "Tiruppur"), "{} Pvt. Ltd.", "890", "IN"),
    Country("PK", 1, "SOUTH_ASIA", "PKR", ("Karachi", "Lahore", "Sialkot"), "{} (Pvt) Ltd",
            "896", "PK"),
    Country("TR", 3, "EUROPE", "TRY", ("Istanbul", "Izmir", "Bursa"), "{} Ltd. Sti.", "869",
            "TR"),
    Country("GB", 4, "EUROPE", "GBP", ("London", "Manchester", "Birmingham", "Leeds"),
            "{} Ltd", "501", "GB"),
    Country("DE", 4, "EUROPE", "EUR", ("Berlin", "Hamburg", "Munich", "Cologne"), "{} GmbH",
            "401", "DE"),
    Country("IT", 2, "EUROPE", "EUR", ("Milan", "Florence", "Naples"), "{} S.r.l.", "800",
            "IT"),
    Country("FR", 2, "EUROPE", "EUR", ("Paris", "Lyon", "Marseille"), "{} SARL", "300", "FR"),
    Country("MX", 3, "AMERICAS", "MXN", ("Mexico City", "Guadalajara", "Monterrey", "Tijuana"),
            "{} S.A. de C.V.", "750", "MX"),
    # CBP writes Canadian MIDs with a province code (XO = Ontario) instead of CA.
    Country("CA", 2, "AMERICAS", "CAD", ("Toronto", "Mississauga", "Ottawa"), "{} Inc.",
            "754", "XO"),
)

FX_PER_USD: dict[str, float] = {
    "USD": 1.0, "EUR": 0.92, "GBP": 0.79, "CNY": 7.2, "HKD": 7.8, "VND": 25000.0,
    "KRW": 1350.0, "JPY": 150.0, "TWD": 32.0, "THB": 36.0, "IDR": 16000.0, "INR": 83.0,
    "PKR": 280.0, "TRY": 32.0, "MXN": 17.0, "CAD": 1.36,
}


@dataclass(frozen=True)
class Airline:
    """An airline carrying consolidated e-commerce freight into the US."""

    code: str
    prefix: str
    hubs: tuple[str, ...]
    block_hours: float


# Each region needs at least five airlines with distinct prefixes, so that the
# parcels of one split shipment (3-5) can travel under different masters.
REGIONS: dict[str, tuple[Airline, ...]] = {
    "ASIA": (
        Airline("CX", "160", ("HKG",), 14.0), Airline("CA", "999", ("PEK", "PVG"), 13.0),
        Airline("CZ", "784", ("CAN", "SZX"), 14.5), Airline("MU", "781", ("PVG",), 13.5),
        Airline("KE", "180", ("ICN",), 12.5), Airline("OZ", "988", ("ICN",), 12.5),
        Airline("NH", "205", ("NRT",), 11.5), Airline("CI", "297", ("TPE",), 13.0),
        Airline("FX", "023", ("HKG", "PVG", "NRT"), 14.0),
    ),
    "SOUTH_ASIA": (
        Airline("AI", "098", ("DEL", "BOM"), 16.0), Airline("EK", "176", ("DXB",), 15.0),
        Airline("QR", "157", ("DOH",), 15.5), Airline("EY", "607", ("AUH",), 15.0),
        Airline("FX", "023", ("BOM",), 16.0), Airline("UA", "016", ("DEL",), 15.5),
    ),
    "EUROPE": (
        Airline("LH", "020", ("FRA",), 9.0), Airline("BA", "125", ("LHR",), 8.5),
        Airline("TK", "235", ("IST",), 11.0), Airline("AF", "057", ("CDG",), 8.5),
        Airline("KL", "074", ("AMS",), 8.5), Airline("FX", "023", ("CDG",), 9.0),
    ),
    "AMERICAS": (
        Airline("AM", "139", ("MEX", "GDL"), 4.5), Airline("AC", "014", ("YYZ", "YVR"), 3.5),
        Airline("AA", "001", ("MEX",), 4.5), Airline("UA", "016", ("YYZ",), 3.0),
        Airline("DL", "006", ("MEX",), 4.0), Airline("FX", "023", ("MEX", "YYZ"), 4.0),
    ),
}


@dataclass(frozen=True)
class Gateway:
    """A US airport where consolidated e-commerce freight clears, with its CBP port code."""

    airport: str
    port_code: str
    weight: int


GATEWAYS: tuple[Gateway, ...] = (
    Gateway("JFK", "4701", 20), Gateway("LAX", "2720", 20), Gateway("ORD", "3901", 14),
    Gateway("MIA", "5206", 8), Gateway("ANC", "3126", 6), Gateway("SFO", "2801", 6),
    Gateway("DFW", "5501", 6), Gateway("ATL", "1704", 5), Gateway("SEA", "3029", 4),
    Gateway("MEM", "2006", 4), Gateway("SDF", "4196", 4), Gateway("EWR", "4601", 3),
)

FIRST_NAMES: tuple[str, ...] = _words(
    """James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara
    Richard Susan Joseph Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy Matthew
    Betty Anthony Sandra Mark Margaret Donald Ashley Steven Kimberly Andrew Emily Paul Donna Joshua
    Michelle Kenneth Carol Kevin Amanda Brian Melissa George Deborah Timothy Stephanie Ronald
    Rebecca Jason Laura Edward Sharon Jeffrey Cynthia Ryan Kathleen Jacob Amy Gary Angela Nicholas
    Shirley Eric Brenda Jonathan Emma Stephen Anna Larry Pamela Justin Nicole Scott Samantha
    Brandon Katherine Benjamin Christine Samuel Debra Gregory Rachel Alexander Carolyn Patrick
    Janet Frank Maria Raymond Olivia Jack Heather Dennis Helen Jerry Catherine Tyler Diane Aaron
    Julie Jose Victoria Adam Joyce Nathan Lauren Henry Kelly Zachary Christina Douglas Ruth Peter
    Joan Kyle Virginia Noah Judith Ethan Evelyn Jeremy Hannah Walter Andrea Christian Megan Keith
    Cheryl Roger Jacqueline Terry Madison Austin Teresa Sean Abigail Gerald Sophia Carl Martha
    Harold Sara Dylan Gloria Arthur Janice Lawrence Kathryn Jordan Ann Jesse Isabella Bryan Judy
    Billy Charlotte Bruce Julia Gabriel Grace Joe Amber Logan Alice Alan Jean Juan Denise Wayne
    Frances Elijah Danielle Randy Marilyn Roy Natalie Vincent Beverly Ralph Diana Eugene Brittany
    Russell Theresa Bobby Kayla Mason Alexis Philip Doris Louis Lori Wei Priya Mohammed Fatima
    Hiroshi Yuki Minh Mei Carlos Lucia Ahmed Aisha Dmitri Olga Kwame Amara Rahul Ananya"""
)

LAST_NAMES: tuple[str, ...] = _words(
    """Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez
    Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris
    Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill
    Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips
    Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart Morris Morales Murphy Cook Rogers
    Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward Richardson
    Watson Brooks Chavez Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo Sanders
    Patel Myers Long Ross Foster Jimenez Powell Jenkins Perry Russell Sullivan Bell Coleman Butler
    Henderson Barnes Gonzales Fisher Vasquez Simmons Romero Jordan Patterson Alexander Hamilton
    Graham Reynolds Griffin Wallace Moreno West Cole Hayes Bryant Herrera Gibson Ellis Tran Medina
    Aguilar Stevens Murray Ford Castro Marshall Owens Harrison Fernandez McDonald Woods Washington
    Kennedy Wells Vargas Henry Chen Freeman Webb Tucker Guzman Burns Crawford Olson Simpson Porter
    Hunter Gordon Mendez Silva Shaw Snyder Mason Dixon Munoz Hunt Hicks Holmes Palmer Wagner Black
    Robertson Boyd Rose Stone Salazar Fox Warren Mills Meyer Rice Schmidt Garza Daniels Ferguson
    Nichols Stephens Soto Weaver Ryan Gardner Payne Grant Dunn Kelley Spencer Hawkins Arnold Pierce
    Vazquez Hansen Peters Santos Hart Bradley Knight Elliott Cunningham Duncan Armstrong Hudson
    Carroll Lane Riley Andrews Alvarado Ray Delgado Berry Perkins Hoffman Johnston Matthews Pena
    Richards Contreras Willis Carpenter Lawrence Sandoval Wang Zhang Liu Yamamoto Sato Singh Shah
    Okafor Mensah Ivanov Kowalski Novak Haddad Rahman Hussain"""
)

STREET_NAMES: tuple[str, ...] = _words(
    """Main Oak Pine Maple Cedar Elm Washington Lake Hill Park Walnut Sunset Lincoln Jackson
    Church River Highland Meadow Forest Willow Jefferson Madison Franklin Chestnut Spruce Ridge
    Center Mill Spring Valley Cherry Adams Dogwood Laurel Hickory Birch Sycamore Magnolia Poplar
    Aspen Prospect Union Broad Liberty Market Water Bridge Locust Orchard Summit Harbor Bay Canyon
    Mesa Prairie Cypress Juniper Hawthorn Lakeview Fairview Greenwood Riverside Woodland Brookside
    Hillcrest Kingston Lexington Monroe Hamilton Wilson Grant Taylor Cleveland Harrison Garfield
    Pleasant Sherman Cambridge Oxford Bedford Cardinal Heritage Colonial Academy Stadium Railroad
    Depot Hudson Delaware Ohio Dakota Montana Vermont Carolina Georgia Sierra Shoreline Timber
    Stonebridge Foxhill Peachtree Pinecrest Westview Eastwood Northgate Southpoint"""
)

STREET_SUFFIXES: tuple[str, ...] = ("St", "Ave", "Rd", "Blvd", "Ln", "Dr", "Ct", "Way", "Pl")

# (city, state, first three digits of its ZIP codes)
US_CITIES: tuple[tuple[str, str, str], ...] = (
    ("New York", "NY", "100"), ("Brooklyn", "NY", "112"), ("Los Angeles", "CA", "900"),
    ("Chicago", "IL", "606"), ("Houston", "TX", "770"), ("Phoenix", "AZ", "850"),
    ("Philadelphia", "PA", "191"), ("San Antonio", "TX", "782"), ("San Diego", "CA", "921"),
    ("Dallas", "TX", "752"), ("Austin", "TX", "787"), ("Jacksonville", "FL", "322"),
    ("Columbus", "OH", "432"), ("Charlotte", "NC", "282"), ("Indianapolis", "IN", "462"),
    ("San Francisco", "CA", "941"), ("Seattle", "WA", "981"), ("Denver", "CO", "802"),
    ("Nashville", "TN", "372"), ("Oklahoma City", "OK", "731"), ("Boston", "MA", "021"),
    ("Portland", "OR", "972"), ("Las Vegas", "NV", "891"), ("Detroit", "MI", "482"),
    ("Memphis", "TN", "381"), ("Louisville", "KY", "402"), ("Baltimore", "MD", "212"),
    ("Milwaukee", "WI", "532"), ("Albuquerque", "NM", "871"), ("Tucson", "AZ", "857"),
    ("Fresno", "CA", "937"), ("Sacramento", "CA", "958"), ("Kansas City", "MO", "641"),
    ("Atlanta", "GA", "303"), ("Miami", "FL", "331"), ("Raleigh", "NC", "276"),
    ("Omaha", "NE", "681"), ("Minneapolis", "MN", "554"), ("Tulsa", "OK", "741"),
    ("Cleveland", "OH", "441"), ("Tampa", "FL", "336"), ("New Orleans", "LA", "701"),
    ("Pittsburgh", "PA", "152"), ("Cincinnati", "OH", "452"), ("St. Louis", "MO", "631"),
    ("Orlando", "FL", "328"), ("Salt Lake City", "UT", "841"), ("Richmond", "VA", "232"),
    ("Boise", "ID", "837"), ("Des Moines", "IA", "503"), ("Spokane", "WA", "992"),
    ("Birmingham", "AL", "352"), ("Rochester", "NY", "146"), ("Madison", "WI", "537"),
    ("Anchorage", "AK", "995"), ("Honolulu", "HI", "968"), ("Providence", "RI", "029"),
    ("Hartford", "CT", "061"), ("Newark", "NJ", "071"), ("Buffalo", "NY", "142"),
)

# Seller trading names are built from these; manufacturer names from a disjoint pool,
# so a name screening of sellers can never hit a listed manufacturer by accident.
SELLER_WORDS: tuple[str, ...] = _words(
    """Sunrise Bluewave Everbright Starlink Goldleaf Jadeite Nova Apex Zenith Lumen Harbor
    Silverline Orchid Summit Crystal Evergreen Brightpath Skyway Pacific Oceanic Maple Lotus
    Phoenix Aurora Horizon Vertex Prime Vista Crest Radiant Kinetic Urban Echo Swift Nimbus
    Cobalt Amber Coral Ivory Onyx Sapphire Topaz Velvet Willow Falcon Eagle Tiger Panda Koala
    Bamboo Cedar Meadow River Stone Glacier Comet Orbit Pixel Quantum Fusion Spark"""
)
SELLER_TRADES: tuple[str, ...] = (
    "Trading", "E-Commerce", "Technology", "Import Export", "Supply Chain", "Retail",
    "Commerce", "International Trade", "Digital", "Merchandise",
)

MANUFACTURER_WORDS: tuple[str, ...] = _words(
    """Golden Harvest Great Wall Fortune Dragon Jiahe Hengli Xinda Huamei Baoli Tianrui
    Yongsheng Anda Kaifeng Shunfa Mingyang Lianfa Hongxing Ruixin Zhongtai Fuhua Dongsheng
    Weixin Haitian Jinlong Saigon Mekong Ganges Indus Anatolia Bosporus Rhine Danube Thames
    Pennine Sierra Madre Yukon Hanil Daesung Kyowa Sanyo Formosa Siam Nusantara Hoshi"""
)
MANUFACTURER_TRADES: tuple[str, ...] = (
    "Garments", "Electronics", "Textile", "Plastic Products", "Metal Works", "Industrial",
    "Manufacturing", "Precision", "Apparel", "Household Products", "Leather", "Toys",
)

BRANDS: tuple[str, ...] = _words(
    """Lumora Zentek Aervo Kivana Nordlyn Tessaro Vireo Quilla Brontex Solenne Maxtrek Ardeo
    Yunova Kestro Pellion Corvan Elvira Dunmore Astrix Halcyon Ondera Velluto Tryvo Marlowe
    Ixora Norvik Seraph Tallis Umbra Zephra"""
)

CITY_STREETS: tuple[str, ...] = (
    "Industrial Park Road", "Science Avenue", "Harbour Road", "Export Zone Street",
    "Technology Road", "Commerce Street", "Station Road", "Factory Lane", "Market Street",
    "Logistics Avenue",
)
