"""Name pools per origin, with the native-script form and its usual transliterations.

Each pool is written as ``native=Latin/Variant;...``: the native-script form (Cyrillic,
Arabic, Hebrew, Chinese, Bengali, Georgian), then the Latin spellings found on French
documents, most usual first. An entry without ``=`` is already in Latin script and has
no native form. Pools are ordered by frequency; :mod:`vigie.synth.people` draws from them
with Zipf-like weights, so the first names are the common ones, as in a real register.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Name:
    """One name: its native-script form (or None) and its Latin spellings."""

    native: str | None
    latin: tuple[str, ...]


def parse_pool(text: str) -> tuple[Name, ...]:
    """Parse a ``native=Latin/Variant;...`` pool."""
    names = []
    for raw in text.split(";"):
        entry = raw.strip()
        if not entry:
            continue
        if "=" in entry:
            native, latin = entry.split("=", 1)
            names.append(Name(native.strip(), tuple(v.strip() for v in latin.split("/"))))
        else:
            names.append(Name(None, tuple(v.strip() for v in entry.split("/"))))
    return tuple(names)


@dataclass(frozen=True)
class NamePools:
    """Given names by sex and family names of one origin."""

    male: tuple[Name, ...]
    female: tuple[Name, ...]
    family: tuple[Name, ...]
    # Russian-style surnames take a feminine ending (Иванов -> Иванова, Ivanov -> Ivanova).
    gendered_family: bool = False
    # Chinese names are written family-name first without a space in the native form.
    family_first: bool = False


def _pools(male: str, female: str, family: str, **kw: bool) -> NamePools:
    return NamePools(parse_pool(male), parse_pool(female), parse_pool(family), **kw)


_MAGHREB_MALE = (
    "محمد=Mohamed/Mohammed/Mohamad;أمين=Amine/Amin;ياسين=Yassine/Yacine;كريم=Karim/Kerim;"
    "سفيان=Sofiane/Soufiane;رضا=Reda/Rida;مهدي=Mehdi/Mahdi;بلال=Bilal/Billel;"
    "يوسف=Youssef/Youcef/Yousef;عمر=Omar/Omer;حمزة=Hamza;إسماعيل=Ismail/Smail;"
    "نبيل=Nabil;رشيد=Rachid/Rashid;سعيد=Said/Saïd;عبد القادر=Abdelkader/Abdelkadir"
)
_MAGHREB_FEMALE = (
    "فاطمة=Fatima/Fatma/Fatiha;خديجة=Khadija/Khadidja;أمينة=Amina;سارة=Sarah/Sara;"
    "إيمان=Imane/Imen/Iman;مريم=Meriem/Maryam/Myriam;ياسمين=Yasmine/Yasmina;سلمى=Salma;"
    "نادية=Nadia;ليلى=Leila/Leïla/Laila;سعاد=Souad;هدى=Houda/Hoda;نور=Nour/Nora;زينب=Zineb/Zeineb"
)
_ARABIC_MALE = (
    "محمد=Mohammed/Mohamad/Muhammad;أحمد=Ahmad/Ahmed;خالد=Khaled/Khalid;عمر=Omar;"
    "يوسف=Youssef/Yousef/Yusuf;حسن=Hassan/Hasan;علي=Ali;إبراهيم=Ibrahim/Ebrahim;"
    "محمود=Mahmoud/Mahmud;سامر=Samer;عبد الله=Abdullah/Abdallah;مصطفى=Mustafa/Moustafa"
)
_ARABIC_FEMALE = (
    "فاطمة=Fatima/Fatmeh;مريم=Maryam/Mariam;نور=Nour/Noor;هبة=Hiba/Heba;رنا=Rana;لينا=Lina;"
    "ريم=Reem/Rim;سارة=Sara/Sarah;آية=Aya/Ayah;دعاء=Doaa/Duaa;رهف=Rahaf;ياسمين=Yasmin/Yasmine"
)

POOLS: dict[str, NamePools] = {
    "UKR": _pools(
        "Олександр=Oleksandr/Olexandr/Aleksandr;Андрій=Andrii/Andriy;Дмитро=Dmytro/Dmitro;"
        "Іван=Ivan;Максим=Maksym/Maxim;Сергій=Serhii/Serhiy/Sergii;Юрій=Yurii/Yuriy;"
        "Віктор=Viktor/Victor;Богдан=Bohdan/Bogdan;Володимир=Volodymyr;Тарас=Taras",
        "Олена=Olena/Elena;Наталія=Nataliia/Natalia;Оксана=Oksana/Oxana;Ірина=Iryna/Irina;"
        "Тетяна=Tetiana/Tetyana/Tatiana;Юлія=Yuliia/Yulia/Iuliia;Анна=Anna/Hanna;Марія=Mariia/Maria;"
        "Катерина=Kateryna/Katerina;Світлана=Svitlana;Людмила=Liudmyla/Lyudmyla;Вікторія=Viktoriia",
        "Шевченко=Shevchenko;Коваленко=Kovalenko;Бондаренко=Bondarenko;Ткаченко=Tkachenko;"
        "Кравченко=Kravchenko;Мельник=Melnyk/Melnik;Коваль=Koval;Олійник=Oliinyk/Oliynyk;"
        "Шевчук=Shevchuk;Поліщук=Polishchuk;Бойко=Boiko/Boyko;Ткачук=Tkachuk;Савченко=Savchenko;"
        "Руденко=Rudenko;Марченко=Marchenko;Лисенко=Lysenko/Lisenko;Мороз=Moroz;Петренко=Petrenko;"
        "Клименко=Klymenko/Klimenko;Павленко=Pavlenko;Кузьменко=Kuzmenko;Гончаренко=Honcharenko",
    ),
    "RUS": _pools(
        "Александр=Aleksandr/Alexandre/Alexander;Дмитрий=Dmitrii/Dmitry/Dmitri;Максим=Maksim/Maxim;"
        "Сергей=Sergei/Sergey/Serguei;Андрей=Andrei/Andrey;Алексей=Aleksei/Alexei/Alexey;Иван=Ivan;"
        "Михаил=Mikhail/Mikhaïl;Никита=Nikita;Артём=Artem/Artyom",
        "Анна=Anna;Мария=Mariia/Maria;Елена=Elena/Yelena;Ольга=Olga;Наталья=Natalia/Natalya;"
        "Екатерина=Ekaterina/Yekaterina;Татьяна=Tatiana/Tatyana;Ирина=Irina;Анастасия=Anastasiia/Anastasia;"
        "Дарья=Daria/Darya",
        "Иванов=Ivanov;Смирнов=Smirnov;Кузнецов=Kuznetsov/Kouznetsov;Попов=Popov;Васильев=Vasilev/Vasilyev;"
        "Петров=Petrov;Соколов=Sokolov;Михайлов=Mikhailov;Новиков=Novikov;Фёдоров=Fedorov/Fyodorov;"
        "Морозов=Morozov;Волков=Volkov;Лебедев=Lebedev;Козлов=Kozlov",
        gendered_family=True,
    ),
    "AFG": _pools(
        "محمد=Mohammad/Mohammed/Muhammad;احمد=Ahmad/Ahmed;علی=Ali;حسین=Hussain/Hossein/Husain;"
        "عبدالله=Abdullah/Abdulla;نجیب=Najib/Najeeb;فرید=Farid/Fareed;جاوید=Jawid/Javed/Jawed;"
        "رحیم=Rahim;کریم=Karim/Kareem;زبیر=Zubair/Zobair;شفیق=Shafiq/Shafik;نوید=Navid/Naweed;"
        "سمیع=Sami/Samiullah",
        "فاطمه=Fatima/Fatema;زهرا=Zahra;مریم=Maryam/Mariam;شکیلا=Shakila;فریبا=Fariba;"
        "نرگس=Nargis/Narges;سمیرا=Samira;لیلا=Laila/Leila;مرسل=Mursal;پروانه=Parwana",
        "احمدی=Ahmadi;محمدی=Mohammadi/Muhammadi;حیدری=Haidari/Haydari;رحیمی=Rahimi;نوری=Noori/Nouri;"
        "حسینی=Hussaini/Hosseini;کریمی=Karimi;صدیقی=Siddiqi/Sediqi;یوسفزی=Yousafzai/Yusufzai;"
        "پوپلزی=Popalzai;وردک=Wardak;امیری=Amiri;سلطانی=Sultani/Soltani;قادری=Qaderi/Kaderi;"
        "نظری=Nazari;هاشمی=Hashimi/Hashemi",
    ),
    "SYR": _pools(
        _ARABIC_MALE,
        _ARABIC_FEMALE,
        "الأحمد=Al-Ahmad/Alahmad;الحسن=Al-Hassan/Alhassan;الخطيب=Al-Khatib/Alkhatib;"
        "الحلبي=Al-Halabi/Halabi;المصري=Al-Masri/Masri;الشامي=Al-Shami/Chami;حداد=Haddad;"
        "العلي=Al-Ali/Alali;سليمان=Suleiman/Sleiman;إبراهيم=Ibrahim;الحمصي=Al-Homsi;قاسم=Kassem/Qasim",
    ),
    "SDN": _pools(
        "محمد=Mohamed/Mohammed;عثمان=Osman/Othman;آدم=Adam;إسحاق=Ishag/Ishaq;موسى=Musa/Moussa;"
        "عبد الرحمن=Abdelrahman/Abdalrahman;حامد=Hamid/Hamed;الطيب=Eltayeb/Altayeb",
        "عائشة=Aisha/Aicha;حواء=Hawa;فاطمة=Fatima;مريم=Mariam;أمل=Amal;سلمى=Salma",
        "عبد الله=Abdalla/Abdallah;أحمد=Ahmed;إبراهيم=Ibrahim;آدم=Adam;عثمان=Osman;موسى=Musa;"
        "إدريس=Idris/Idriss;يعقوب=Yagoub/Yacoub",
    ),
    "DZA": _pools(
        _MAGHREB_MALE,
        _MAGHREB_FEMALE,
        "بن علي=Benali/Ben Ali;بوزيد=Bouzid;حمدي=Hamdi;سعيدي=Saidi/Saïdi;مباركي=Mebarki;"
        "بلقاسم=Belkacem/Belkassem;شريف=Cherif;زروقي=Zerrouki;حداد=Haddad;مسعودي=Messaoudi;"
        "بوعزيز=Bouaziz;بن يوسف=Benyoucef;رحماني=Rahmani;مزيان=Meziane;عمراني=Amrani",
    ),
    "MAR": _pools(
        _MAGHREB_MALE,
        _MAGHREB_FEMALE,
        "العلوي=Alaoui/El Alaoui;بناني=Bennani;الإدريسي=El Idrissi/Idrissi;التازي=Tazi;"
        "الفاسي=El Fassi/Fassi;بنعلي=Benali;الأمراني=Amrani/El Amrani;برادة=Berrada;"
        "الشرقاوي=Cherkaoui/Charkaoui;الزياني=Ziani;بنجلون=Benjelloun;"
        "المنصوري=Mansouri/El Mansouri",
    ),
    "TUN": _pools(
        _MAGHREB_MALE,
        _MAGHREB_FEMALE,
        "بن سالم=Ben Salem/Bensalem;الطرابلسي=Trabelsi;الغربي=Gharbi;الجلاصي=Jlassi;"
        "الحمدي=Hamdi;المحجوب=Mahjoub;بن عمر=Ben Amor;الزواري=Zouari;الشابي=Chebbi;السعيدي=Saidi;"
        "الرياحي=Riahi;الهمامي=Hammami",
    ),
    "ISR": _pools(
        "יוסף=Yosef/Yossef/Joseph;דוד=David;משה=Moshe/Moche;אברהם=Avraham/Abraham;דניאל=Daniel;"
        "אריאל=Ariel;נועם=Noam;איתי=Itai/Itay;יונתן=Yonatan/Jonathan",
        "שרה=Sarah/Sara;רחל=Rachel/Rahel;נועה=Noa/Noah;מיכל=Michal;תמר=Tamar;יעל=Yael/Jael;"
        "אביגיל=Avigail/Abigail;מאיה=Maya/Maïa",
        "כהן=Cohen/Kohen;לוי=Levi/Levy;מזרחי=Mizrahi/Mizrachi;פרץ=Peretz/Perez;ביטון=Biton/Bitton;"
        "דהן=Dahan;אברהם=Avraham/Abraham;פרידמן=Friedman/Fridman;מלכה=Malka;אזולאי=Azoulay/Azoulai;"
        "כץ=Katz/Kats;שפירא=Shapira/Chapira",
    ),
    "CHN": _pools(
        "伟=Wei;强=Qiang;磊=Lei;军=Jun;洋=Yang;勇=Yong;杰=Jie;涛=Tao;明=Ming;超=Chao;刚=Gang;浩=Hao",
        "芳=Fang;娜=Na;敏=Min;静=Jing;丽=Li;艳=Yan;秀英=Xiuying;霞=Xia;平=Ping;桂英=Guiying;婷=Ting",
        "王=Wang;李=Li;张=Zhang;刘=Liu;陈=Chen;杨=Yang;黄=Huang;赵=Zhao;吴=Wu;周=Zhou;徐=Xu;"
        "孙=Sun;马=Ma;朱=Zhu;胡=Hu;郭=Guo;何=He;林=Lin",
        family_first=True,
    ),
    "BGD": _pools(
        "মোহাম্মদ=Mohammad/Md/Muhammad;আব্দুল=Abdul;রফিক=Rafiq/Rafik;করিম=Karim;সাকিব=Sakib/Shakib;"
        "রাকিব=Rakib;তানভীর=Tanvir/Tanveer;হাসান=Hasan/Hassan",
        "নাসরিন=Nasrin/Nasreen;শাহানা=Shahana;ফাতেমা=Fatema/Fatima;রুমানা=Rumana;তাসলিমা=Taslima;"
        "সুমাইয়া=Sumaiya/Sumaya",
        "রহমান=Rahman;ইসলাম=Islam;হোসেন=Hossain/Hussain;আহমেদ=Ahmed;আলী=Ali;খান=Khan;মিয়া=Miah/Mia;"
        "উদ্দিন=Uddin;চৌধুরী=Chowdhury/Choudhury;সরকার=Sarker/Sarkar",
    ),
    "GEO": _pools(
        "გიორგი=Giorgi/Guiorgui;დავით=Davit/David;ნიკა=Nika;ლევან=Levan;ირაკლი=Irakli;ლაშა=Lasha",
        "ნინო=Nino;მარიამ=Mariam;ანა=Ana/Anna;თამარ=Tamar/Tamara;ეკატერინე=Ekaterine;სალომე=Salome",
        "ბერიძე=Beridze;კაპანაძე=Kapanadze;გელაშვილი=Gelashvili/Guelachvili;მაისურაძე=Maisuradze;"
        "გიორგაძე=Giorgadze;ლომიძე=Lomidze;წიკლაური=Tsiklauri;ნოზაძე=Nozadze",
    ),
    "TUR": _pools(
        "Mehmet;Mustafa;Ahmet;Ali;Hüseyin/Huseyin;Hasan;İbrahim/Ibrahim;Murat;Emre;Burak;Yusuf",
        "Fatma;Ayşe/Ayse;Emine;Hatice;Zeynep;Elif;Merve;Özlem/Ozlem;Esra;Büşra/Busra",
        "Yılmaz/Yilmaz;Kaya;Demir;Şahin/Sahin;Çelik/Celik;Yıldız/Yildiz;Yıldırım/Yildirim;"
        "Öztürk/Ozturk;Aydın/Aydin;Özdemir/Ozdemir;Arslan;Doğan/Dogan;Kılıç/Kilic;Aslan",
    ),
    "CMR": _pools(
        "Jean;Paul;Emmanuel;Joseph;Christian;Serge;Hervé/Herve;Boris;Landry;Franck",
        "Marie;Hélène/Helene;Brigitte;Sandrine;Aïcha/Aicha;Carine;Nadège/Nadege;Estelle;Laure",
        "Mbarga;Nkoulou;Fotso;Tchamba;Ngono;Essomba;Kamga;Njoya;Atangana;Manga;Ndongo;Abena;"
        "Tchoupo;Mballa;Nana;Fouda",
    ),
    "CIV": _pools(
        "Kouadio;Yao;Moussa;Ibrahim;Jean-Marc;Serge;Koffi;Ange;Adama;Seydou",
        "Aya;Adjoua;Aminata;Fatou;Christelle;Affoué/Affoue;Mariam;Akissi;Awa",
        "Kouassi;Koffi;Konan;Yao;Kouamé/Kouame;Koné/Kone;Ouattara;Traoré/Traore;Bamba;"
        "Diabaté/Diabate;N'Guessan/Nguessan;Coulibaly;Touré/Toure;Soro",
    ),
    "SEN": _pools(
        "Mamadou;Abdoulaye;Ousmane;Cheikh;Moussa;Ibrahima;Modou;Pape;Amadou;Babacar",
        "Fatou;Aminata;Awa;Mariama;Khady;Aïssatou/Aissatou;Ndeye;Coumba;Astou",
        "Diop;Ndiaye;Fall;Sow;Diallo;Ba;Sy;Gueye;Faye;Mbaye;Sarr;Cissé/Cisse;Seck;Ndoye",
    ),
    "GIN": _pools(
        "Mamadou;Alpha;Thierno;Ibrahima;Abdoulaye;Ousmane;Sekou/Sékou;Mohamed",
        "Mariama;Kadiatou;Fatoumata;Aissatou/Aïssatou;Hawa;Mariame;Djenabou",
        "Diallo;Barry;Bah;Camara;Sylla;Soumah;Sow;Condé/Conde;Keita/Keïta;Touré/Toure",
    ),
    "COD": _pools(
        "Jean;Patrick;Christian;Junior;Glody;Jonathan;Trésor/Tresor;Héritier/Heritier;Cédric/Cedric",
        "Grâce/Grace;Merveille;Divine;Sarah;Nathalie;Esther;Ruth;Gloria",
        "Mukendi;Kabongo;Ilunga;Tshibangu;Mbuyi;Kalala;Lukusa;Kasongo;Mutombo;Ngoy;Kabila;Lumbala",
    ),
    "HTI": _pools(
        "Jean;Wilson;Fritz;Jean-Robert;Ricardo;Peterson;Wesner;Stanley",
        "Marie;Rose;Nadège/Nadege;Guerline;Mirlande;Roseline;Fabienne;Widline",
        "Joseph;Jean-Baptiste;Pierre;Louis;Charles;Saint-Fleur;Jean-Louis;Pierre-Louis;Noël/Noel;"
        "Exantus;Dorvil",
    ),
    "BRA": _pools(
        "João/Joao;Lucas;Gabriel;Pedro;Mateus;Rafael;Gustavo;Felipe",
        "Ana;Maria;Juliana;Fernanda;Camila;Beatriz;Larissa;Letícia/Leticia",
        "Silva;Santos;Oliveira;Souza/Sousa;Lima;Pereira;Costa;Ferreira;Rodrigues;Almeida;Carvalho",
    ),
    "USA": _pools(
        "James;Michael;John;David;Robert;Daniel;Matthew",
        "Mary;Jennifer;Emily;Sarah;Jessica;Ashley;Elizabeth",
        "Smith;Johnson;Williams;Brown;Jones;Miller;Davis;Wilson;Anderson",
    ),
    "GBR": _pools(
        "Oliver;George;Harry;Jack;Thomas;William;James",
        "Olivia;Amelia;Emily;Charlotte;Sophie;Grace;Hannah",
        "Smith;Jones;Taylor;Brown;Williams;Wilson;Evans;Thomas;Roberts",
    ),
}
